"""``rnnlab <command>``: thin wrappers over library calls.

Every command returns an exit status from :func:`main`; user errors print one line on stderr
(``rnnlab <command>: error: ...``) and return 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

from rnnlab.commands import (
    agree,
    bench,
    build,
    caption,
    compare,
    diagnose,
    evaluate,
    inspect_run,
    plot,
    predict,
    sample,
    samples,
    score,
    search,
    serve,
    surface,
    tag,
    task,
    train,
    translate,
    tree,
    units,
    visualize,
)
from rnnlab.commands.common import Parser, UsageError
from rnnlab.runtime import tune_process
from rnnlab.train.launch import report_error

COMMANDS = (
    *(train, sample, samples, evaluate, inspect_run, plot),
    *(score, agree),
    *(predict, tag, translate, caption, tree),
    *(diagnose, units, visualize, serve),
    *(surface, task, compare, bench, build, search),
)


def build_parser() -> Parser:
    parser = Parser(prog="rnnlab", description="Recurrent neural networks: train, sample, evaluate, diagnose, bench.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    tune_process()  # first: denormal flushing must precede PyTorch's worker threads
    try:
        args = train.parse(argv) or build_parser().parse_args(argv)
        args.argv = argv  # what a command that starts other processes passes on
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`rnnlab sample ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UsageError, ValueError, OSError) as e:
        command = f"rnnlab {argv[0]}" if argv and not argv[0].startswith("-") else "rnnlab"
        report_error(f"{command}: error: {e}")
        return 2
    except KeyboardInterrupt:
        report_error("rnnlab: interrupted")
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
