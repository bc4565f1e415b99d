"""``rnnlab diagnose``: why recurrent nets forget, measured on real data.

For trained runs (``rnnlab diagnose runs/demo``) and for freshly initialised cells
(``--cells rnn-tanh,irnn,lstm,gru`` on a corpus or a long-range task): the norm of ``dL_T/dh_t``
against ``T - t``, the singular values of the step Jacobians along a real sequence, and the
eigenvalues of the recurrent matrices against the unit circle. Writes ``gradient-flow.png``,
``jacobians.png`` (unless ``--no-jacobians``), ``spectra.png`` and ``diagnose.json`` into ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path

from rnnlab.cells import check_cells
from rnnlab.commands.common import UsageError, csv_of, path_arg
from rnnlab.diagnose import subjects as sources
from rnnlab.diagnose.report import run_all
from rnnlab.fileio import atomic_write_json
from rnnlab.runs import kind_of
from rnnlab.tasks.lm import load_ids, load_model

FILES = ("gradient-flow.png", "jacobians.png", "spectra.png", "diagnose.json")


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="gradient flow through time, step Jacobians and spectra", description=__doc__)
    p.add_argument("runs", nargs="*", type=path_arg, metavar="RUN", help="trained run directories")
    p.add_argument("--cells", type=csv_of(str), default=[], help="fresh cells, e.g. rnn-tanh,irnn,lstm,gru")
    p.add_argument(
        "--data", default="shakespeare", help="corpus for fresh cells (shakespeare, python-stdlib, linux, latex, file)"
    )
    p.add_argument("--task", default=None, help="a long-range task for the fresh cells (adding, copy, digits...)")
    p.add_argument("-T", "--steps", type=int, default=None, help="corpus window (default 100); tasks keep theirs")
    p.add_argument("--batch", type=int, default=16, help="sequences whose gradient norms are summarised")
    p.add_argument("--hidden", type=int, default=128, help="units per layer of the fresh cells")
    p.add_argument("--layers", type=int, default=1, help="layers of the fresh cells")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-jacobians", action="store_true", help="skip the step Jacobians (the slowest part)")
    p.add_argument("--out", type=path_arg, default=Path("runs/diagnose"), help="folder for the figures and JSON")
    p.set_defaults(func=run)


def _check(args) -> None:
    if not args.runs and not args.cells:
        raise UsageError("give trained run directories, or --cells for freshly initialised cells")
    check_cells("--cells", args.cells)
    for run in args.runs:
        if not run.is_dir():
            raise UsageError(f"run: {run} is not a directory")
    if args.steps is not None and args.steps < 2:
        raise UsageError(f"-T: expected at least 2 steps, got {args.steps}")
    for name in ("batch", "hidden", "layers"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} exists and is not a folder")


def _trained(run: Path, steps: int, batch: int, seed: int) -> sources.Subject:
    """A trained run: a task model (``rnnlab task``) on a batch of its task's test data, or a
    character model on windows of its own validation text (``steps`` long)."""
    if kind_of(run) == "sequence":
        from rnnlab.tasks.sequence import load_sequence_run

        model, task, cfg = load_sequence_run(run)
        return sources.task_subject(f"{run.name} ({cfg.cell}, trained)", model, task, batch, seed, f"run {run}")
    model, vocab, cfg, train_cfg, _ = load_model(run, "best")
    ids = load_ids(train_cfg, vocab, only=("valid",))[1]["valid"]
    source = f"run {run}, validation text of {train_cfg.data}"
    return sources.language_subject(f"{run.name} ({cfg.cell}, trained)", model, ids, steps, batch, seed, source)


def run(args) -> int:
    _check(args)
    steps = args.steps or 100
    size = {"hidden": args.hidden, "layers": args.layers, "batch": args.batch, "seed": args.seed}
    subjects = [_trained(r, steps, args.batch, args.seed) for r in args.runs]
    if args.cells and args.task:
        subjects += sources.fresh_on_task(args.cells, args.task, args.steps, **size)
    elif args.cells:
        subjects += sources.fresh_on_corpus(args.cells, args.data, steps=steps, **size)
    from rnnlab.viz.diagnose import plot_gradient_flow, plot_jacobians, plot_spectra

    started = time.monotonic()
    results = run_all(subjects, jacobians=not args.no_jacobians)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_gradient_flow(results, args.out / FILES[0])
    if not args.no_jacobians:
        plot_jacobians(results, args.out / FILES[1])
    else:
        (args.out / FILES[1]).unlink(missing_ok=True)  # an earlier run's figure would not match the JSON
    plot_spectra(results, args.out / FILES[2])
    atomic_write_json(args.out / FILES[3], {"subjects": [r.summary for r in results]})
    written = [f for f in FILES if (args.out / f).exists()]
    print(f"wrote {', '.join(str(args.out / f) for f in written)} in {time.monotonic() - started:.1f}s")
    return 0
