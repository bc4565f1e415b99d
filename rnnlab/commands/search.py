"""``rnnlab search``: an evolutionary search over recurrent cell graphs (Jozefowicz, Zaremba &
Sutskever 2015), its evaluations run by Dask on local workers or a cluster.

Starts from the GRU (the reference) and the LSTM, mutates the best cells found so far, trains each
new cell briefly on every task (after a short filter training), and keeps score relative to the
GRU. The state is kept in ``OUT/search.sqlite``: a search stopped at any moment (Ctrl-C, the time
budget, a kill) goes on with ``rnnlab search --resume OUT``. Writes ``OUT/leaderboard.json``,
``OUT/fitness.png`` and the best cells' specs in ``OUT/best/`` (for ``--cell graph:PATH``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rnnlab.commands.common import UsageError, csv_of, path_arg
from rnnlab.rundir import LOCK, lock_run_dir, release_run_dir
from rnnlab.train.options import parse_duration
from rnnlab.train.progress import Progress, format_seconds

DEFAULT_OUT = Path("runs/search")
JOIN_TIMEOUT = 60.0  # seconds to wait for a cluster's first worker


def register(sub) -> None:
    p = sub.add_parser(
        "search",
        help="evolutionary search over recurrent cell graphs, evaluated on Dask workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", type=csv_of(str), default=None, help="comma-separated tasks (default: arithmetic,xml)")
    p.add_argument("--time-budget", default="1h", help="stop after this long (default: %(default)s)")
    p.add_argument(
        "--max-evaluations", type=int, default=None, metavar="N", help="stop once N trainings are done in all"
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="local Dask workers (default: %(default)s)")
    p.add_argument("--address", default=None, help="a running Dask scheduler to join, e.g. tcp://HOST:8786")
    p.add_argument("--out", type=path_arg, default=None, help=f"folder of the search (default: {DEFAULT_OUT})")
    p.add_argument("--resume", type=path_arg, default=None, metavar="OUT", help="go on with the search in OUT")
    p.add_argument("--force", action="store_true", help="replace a search already in --out")
    group = p.add_argument_group("search settings (kept on --resume)")
    group.add_argument("--seed", type=int, default=None, help="seed of the mutations and trainings (default: 0)")
    group.add_argument("--steps", type=int, default=None, help="training steps of an evaluation (default: 1000)")
    group.add_argument("--filter-steps", type=int, default=None, help="training steps of the filter (default: 300)")
    group.add_argument(
        "--filter-keep", type=float, default=None, help="share of the GRU's filter score to go on (default: 0.9)"
    )
    group.add_argument("--population", type=int, default=None, help="best cells parents are drawn from (default: 20)")
    group.add_argument("--children", type=int, default=None, help="new cells per generation (default: 2 x workers)")
    group.add_argument("--hidden-size", type=int, default=None, help="units of the cells (default: 128)")
    p.set_defaults(func=run)


SETTINGS = ("tasks", "seed", "steps", "filter_steps", "filter_keep", "population", "children", "hidden_size")


def _config(args):
    from rnnlab.search.driver import SearchConfig

    given = {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}
    if args.resume is not None:
        if given:
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise UsageError(f"--resume: the search keeps its settings; drop {names}")
        return None
    given.setdefault("children", 2 * max(1, args.workers))
    return SearchConfig(**given)


def run(args) -> int:
    budget = parse_duration(args.time_budget)
    if args.workers < 1:
        raise UsageError(f"--workers: expected a positive number of workers, got {args.workers}")
    if args.max_evaluations is not None and args.max_evaluations < 1:
        raise UsageError(f"--max-evaluations: expected a positive number, got {args.max_evaluations}")
    config = _config(args)
    out = args.resume or args.out or DEFAULT_OUT
    _check_out(out, resume=args.resume is not None, force=args.force)
    from rnnlab.cells.named import load_spec
    from rnnlab.search.driver import Search
    from rnnlab.search.engine import Engine
    from rnnlab.search.evaluate import directions, evaluate_cell, search_tasks
    from rnnlab.search.report import format_board, write_reports

    tasks = config.tasks if config else None
    if tasks is not None:
        unknown = [t for t in tasks if t not in search_tasks()]
        if unknown:
            raise UsageError(f"--tasks: unknown {', '.join(unknown)}; known: {', '.join(search_tasks())}")
        config.validate()
    progress = Progress(sys.stdout)
    with Engine(workers=args.workers, address=args.address) as engine:
        if args.address is not None:  # a cluster without workers would wait for ever
            engine.wait_for_workers(1, timeout=JOIN_TIMEOUT)
        lock_run_dir(out)  # one search at a time in a folder
        try:
            if config is not None and args.force:
                _clear(out)
            seeds = {"gru": load_spec("gru"), "lstm": load_spec("lstm")}
            search = Search(out, config, seeds, evaluate_cell, directions(tasks or _saved_tasks(out)))
            progress.log(f"search in {out}: {', '.join(search.config.tasks)}; {engine.describe()}")
            started = time.monotonic()
            deadline = started + budget if budget else None
            stopped = "interrupted"
            try:
                stopped = search.run(engine, deadline, _reporter(progress, started), args.max_evaluations)
            except KeyboardInterrupt:
                pass
            finally:
                board = write_reports(out, search.store, search.directions)
                search.store.close()
        finally:
            release_run_dir(out)
    progress.log(format_board(board))
    progress.log(f"{stopped} after {format_seconds(time.monotonic() - started)}; wrote {out / 'leaderboard.json'}, "
                 f"{out / 'fitness.png'} and {out / 'best'}; go on with: rnnlab search --resume {out}")  # fmt: skip
    return 130 if stopped == "interrupted" else 0


def _saved_tasks(out: Path) -> list[str]:
    from rnnlab.search.store import Store

    with Store(out) as store:
        return store.get("config")["tasks"]


def _check_out(out: Path, resume: bool, force: bool) -> None:
    from rnnlab.search.store import FILE

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    held = (out / FILE).exists()
    if resume and not held:
        raise UsageError(f"--resume: {out} holds no search ({FILE} is missing)")
    if not resume and held and not force:
        raise UsageError(f"--out: {out} already holds a search; use --resume {out} to go on, or --force to replace it")
    if not resume and not held and out.exists() and any(p.name != LOCK for p in out.iterdir()):
        raise UsageError(
            f"--out: {out} holds files but no search; pick another folder (--force replaces a search only)"
        )


def _clear(out: Path) -> None:
    """Empty a search's folder for a new one (the lock stays: this process holds it)."""
    for path in out.iterdir():
        if path.name == LOCK:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _reporter(progress: Progress, started: float):
    def report(candidate: dict, row: str, result: dict) -> None:
        score = f"error: {result['error']}" if result.get("error") else f"{result['value']:.4g}"
        progress.log(
            f"[{format_seconds(time.monotonic() - started)}] #{candidate['number']} {candidate['hash']} "
            f"gen {candidate['generation']} {row}: {score} ({result.get('seconds', 0):.0f} s)"
        )

    return report
