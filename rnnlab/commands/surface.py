"""``rnnlab surface``: error surfaces of one-unit RNNs, the cliff, and gradient clipping on it.

Writes ``surface-1d.png`` (the study notes' linear unit, ``y_T = w^(T-1)``: loss and gradient against
``w``), ``surface-2d.png`` (a one-unit tanh RNN's loss over ``(w, b)`` with gradient-descent paths
without clipping, with norm clipping and with value clipping) and ``surface.json`` (the numbers).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from rnnlab.commands.common import UsageError, csv_of, path_arg
from rnnlab.diagnose import surface
from rnnlab.fileio import atomic_write_json
from rnnlab.runtime import one_thread


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown in ``--help``, the description kept as written."""


MAX_T = 10_000  # beyond about 23 000 the loss at w = 1.01 overflows float64


def register(sub) -> None:
    p = sub.add_parser(
        "surface",
        help="error surfaces: the cliff of a linear unit, clipped and unclipped descent on a tanh unit",
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--out", type=path_arg, default=Path("runs/surface"), help="output folder")
    p.add_argument("-T", type=int, default=1000, dest="T", help="sequence length of the linear unit")
    p.add_argument("--target", type=float, default=1.0, help="wanted y_T of the linear unit (1: remember the input)")
    p.add_argument("--clip", type=float, default=surface.CLIP, help="clipping threshold, by norm and by value")
    p.add_argument("--lr", type=float, default=surface.DEMO_LR, help="learning rate of the descent paths")
    p.add_argument("--steps", type=int, default=surface.DEMO_STEPS, help="gradient-descent steps")
    p.add_argument(
        "--start", type=csv_of(float), default=list(surface.DEMO_START), metavar="W,B", help="start of the paths"
    )
    p.add_argument("--starts", type=int, default=32, help="random starts near the cliff for the statistics (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    p.add_argument("--grid", type=int, default=301, help="grid points per axis of the 2-D maps")
    p.set_defaults(func=run)


def _check(args) -> None:
    if not 2 <= args.T <= MAX_T:
        raise UsageError(f"-T: expected 2 to {MAX_T} steps, got {args.T}")
    for name in ("clip", "lr"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{name}: expected a positive number, got {value}")
    if not (math.isfinite(args.target) and abs(args.target) <= 1e100):  # its square must stay finite
        raise UsageError(f"--target: expected a number between -1e100 and 1e100, got {args.target}")
    if not 0 < args.steps <= 100_000:
        raise UsageError(f"--steps: expected 1 to 100000, got {args.steps}")
    if not 0 <= args.starts <= 10_000:
        raise UsageError(f"--starts: expected 0 to 10000, got {args.starts}")
    if not 10 <= args.grid <= 2001:
        raise UsageError(f"--grid: expected 10 to 2001 points per axis, got {args.grid}")
    if len(args.start) != 2 or not all(math.isfinite(v) for v in args.start):
        raise UsageError(f"--start: expected two finite numbers W,B, got {args.start}")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out: {args.out} is a file, not a folder")


def run(args) -> int:
    _check(args)
    from rnnlab.viz.surface import plot_linear_surface, plot_tanh_surface  # matplotlib only when needed

    with one_thread():  # small element-wise tensors: a second thread only adds waiting on a busy machine
        linear = surface.linear_summary(args.T, args.target)
        lo, hi = surface.linear_w_range(args.T)
        w = torch.linspace(lo, hi, 1201, dtype=surface.DTYPE)
        curve = surface.linear_surface(w, args.T, args.target)
        closed = surface.linear_closed_form(w, args.T, args.target)
        unit = surface.TanhUnit()
        study = surface.clipping_study(unit, tuple(args.start), args.lr, args.steps, args.clip, args.starts, args.seed)
        tanh = study.summary()
        args.out.mkdir(parents=True, exist_ok=True)
        plot_linear_surface(curve, closed, linear, args.clip, args.out / "surface-1d.png")
        plot_tanh_surface(study, tanh, args.out / "surface-2d.png", grid=args.grid)
    atomic_write_json(args.out / "surface.json", {"linear_unit": linear, "tanh_unit": tanh})
    _print_summary(linear, tanh, args.out)
    return 0


def _print_summary(linear: dict, tanh: dict, out: Path) -> None:
    print(f"linear unit, T = {linear['T']}, loss (y_T - {linear['target']:g})^2:")
    for p in linear["points"]:
        print(f"  w = {p['w']:<5g} y_T = {_num(p['y_T'])}  loss = {_num(p['loss'])}  dL/dw = {_num(p['grad'])}")
    print(f"tanh unit, {tanh['model']}, loss {tanh['loss']}, lr {tanh['lr']:g}, {tanh['steps']} steps:")
    for name, p in tanh["paths"].items():
        print(
            f"  {name:<15} end ({p['end'][0]:.3g}, {p['end'][1]:.3g})  final loss {_num(p['final_loss'])}"
            f"  largest step {_num(p['largest_step'])}  clipped steps {p['clipped_steps']}"
        )
    r = tanh.get("random_starts")
    if r:
        print(
            f"  {r['count']} random starts near the cliff: thrown (a step > 10 lr clip) {r['thrown_without_clipping']}"
            f" without clipping, {r['thrown_with_norm_clipping']} with norm clipping"
        )
    print(f"wrote {out / 'surface-1d.png'}, {out / 'surface-2d.png'}, {out / 'surface.json'}")


def _num(x: float | None) -> str:
    return "inf/nan" if x is None else f"{x:.4g}"
