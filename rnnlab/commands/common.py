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


def csv_of(kind):
    """An argparse type for comma-separated lists of ``kind``."""

    def parse(text: str):
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from e

    return parse


def texts_of(args: argparse.Namespace, what: str, verb: str) -> list[str]:
    """The texts given as arguments (``args.texts``) and the non-empty lines of ``args.file``.

    Raises:
        UsageError: an empty text, an unreadable or empty file, or nothing given.
    """
    found = list(args.texts)
    for k, s in enumerate(found, 1):
        if not s.split():
            raise UsageError(f"{what} {k} is empty; give at least one word")
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
        raise UsageError(f'nothing to {verb}: give a {what} ("the cat was full") or --file FILE')
    return found
