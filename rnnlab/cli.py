"""``rnnlab <command>``: thin wrappers over library calls.

Every command returns an exit status from :func:`main`; user errors print one line on stderr
(``rnnlab <command>: error: ...``) and return 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab import bench
from rnnlab.fileio import atomic_write_json


class UsageError(Exception):
    """A mistake in what the user asked for; reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + message
        raise UsageError(message)


def _csv(kind):
    def parse(text: str):
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from e

    return parse


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="time forward+backward of each cell against torch.nn")
    p.add_argument("--cells", type=_csv(str), default=bench.DEFAULT_CELLS, help="comma-separated cell names")
    p.add_argument("--hidden", type=_csv(int), default=[256, 512], help="hidden sizes, e.g. 256,512")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=100, help="sequence length T")
    p.add_argument("--input", type=int, default=64, help="input features")
    p.add_argument("--repeats", type=int, default=15, help="timed runs per module (median is kept)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args) -> int:
    from rnnlab.cells import CELLS

    unknown = [c for c in args.cells if c not in CELLS]
    if unknown:
        raise UsageError(f"--cells: unknown {', '.join(unknown)}; known: {', '.join(CELLS)}")
    for name in ("batch", "steps", "input", "repeats"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if not args.hidden or min(args.hidden) <= 0:
        raise UsageError(f"--hidden: expected positive integers, got {args.hidden}")
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"--json: folder {args.json.parent} does not exist")
    rows = bench.run_bench(args.cells, args.hidden, args.batch, args.steps, args.input, args.repeats)
    print(
        f"forward+backward, batch {args.batch}, T {args.steps}, input {args.input}; "
        f"median of {args.repeats}; ratio = rnnlab / reference"
    )
    print(bench.format_table(rows))
    if args.json is not None:
        config = {k: getattr(args, k) for k in ("cells", "hidden", "batch", "steps", "input", "repeats")}
        atomic_write_json(args.json, bench.rows_to_json(rows, config))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnlab", description="Recurrent neural networks: train, sample, diagnose, bench.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_bench(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except (UsageError, ValueError, OSError) as e:
        command = f"rnnlab {argv[0]}" if argv else "rnnlab"
        print(f"{command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main(sys.argv[1:]))
