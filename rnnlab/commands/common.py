"""Shared pieces of the CLI commands."""

from __future__ import annotations

import argparse
from pathlib import Path


class UsageError(Exception):
    """A mistake in what the user asked for; reported as one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str):
        raise UsageError(message)


def path_arg(text: str) -> Path:
    """An argparse type for a file or folder: ``Path(text)``, refusing an empty or blank one (which
    would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return Path(text)


def csv_of(kind):
    """An argparse type for comma-separated lists of ``kind``."""

    def parse(text: str):
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from e

    return parse


def texts_of(args: argparse.Namespace, what: str, verb: str, example: str = '"the cat was full"') -> list[str]:
    """The texts given as arguments (``args.texts``) and the non-empty lines of ``args.file``.

    Raises:
        UsageError: an empty text, an unreadable or empty file, or nothing given.
    """
    found = list(args.texts)
    for k, s in enumerate(found, 1):
        if not s.split():
            raise UsageError(f"{what} {k} is empty")
    file: Path | None = args.file
    if file is not None:
        from rnnlab.data.corpora import DataError, read_user_bytes

        try:  # a device or a FIFO is named as such and never read
            lines = [ln for ln in read_user_bytes(file).decode("utf-8").splitlines() if ln.split()]
        except DataError as e:
            raise UsageError(f"--file: {str(e).removeprefix('data: ')}") from e
        except UnicodeDecodeError as e:
            raise UsageError(f"--file: {file} is not UTF-8 text") from e
        if not lines:
            raise UsageError(f"--file: {file} holds no {what} (no line with a word)")
        found += lines
    if not found:
        article = "an" if what[0] in "aeiou" else "a"
        raise UsageError(f"nothing to {verb}: give {article} {what} ({example}) or --file FILE")
    return found


def add_search_flags(p: argparse.ArgumentParser, unit: str, beam: int) -> None:
    """The decoding flags of ``translate`` and ``caption``: beam search (``beam`` wide unless told),
    n-best lists, sampling."""
    p.add_argument("--beam", type=int, default=None, help=f"beam width (default {beam}; 1 = greedy)")
    p.set_defaults(default_beam=beam)
    p.add_argument("--nbest", type=int, default=1, help="outputs an input (the best of the beam first)")
    p.add_argument("--length-penalty", type=float, default=1.0, help="beam scores over length**this (0 = none)")
    p.add_argument("--max-length", type=int, default=0, help=f"most output {unit}s (0 = the run's --max-length)")
    p.add_argument("--temperature", type=float, default=0.0, help="above 0: sample at this temperature")
    p.add_argument("--top-k", type=int, default=0, help=f"sample among the k likeliest {unit}s (0 = off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    p.add_argument("--seed", type=int, default=None, help="seed of the samples")


def check_search(args: argparse.Namespace) -> None:
    """Check the flags of :func:`add_search_flags` and ``--attention PNG``; fills in ``--beam``."""
    from rnnlab.generate import check_sampling

    check_sampling(args.temperature, args.top_k, args.top_p, args.max_length, args.seed, "max_length")
    sampling = args.temperature > 0
    if sampling and (args.beam not in (None, 1) or args.nbest > 1):
        raise UsageError("--temperature: sampling draws one output an input; leave out --beam and --nbest")
    args.beam = args.beam if args.beam is not None else 1 if sampling else args.default_beam
    for name in ("beam", "nbest"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name}: expected an integer >= 1, got {getattr(args, name)}")
    if args.nbest > args.beam:
        raise UsageError(f"--nbest {args.nbest}: at most the beam width (--beam {args.beam})")
    if not sampling:
        for name, off in (("top_k", 0), ("top_p", 1.0)):
            if getattr(args, name) != off:
                raise UsageError(f"--{name.replace('_', '-')}: shapes sampling only; give --temperature above 0")
    if args.attention is not None:
        writable_file("--attention", args.attention, ".png")


def writable_file(flag: str, path: Path, suffix: str = "", *more: Path) -> Path:
    """Check before any work that ``path`` (and the files ``more`` written beside it) can be
    written: the suffix ``suffix`` if given, an existing parent folder, not a folder itself.

    Raises:
        UsageError: naming ``flag`` and what is wrong.
    """
    if suffix and path.suffix.lower() != suffix:
        raise UsageError(f"{flag}: {path} must end in {suffix}")
    if not path.parent.is_dir():
        raise UsageError(f"{flag}: {path.parent} is not an existing folder")
    for each in (path, *more):
        if each.is_dir():
            raise UsageError(f"{flag}: {each} is a folder")
    return path
