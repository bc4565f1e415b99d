"""``rnnlab plot OUT``: redraw a run's figures from its records.

``loss.png`` (training and validation loss), ``clipping.png`` (the gradient norm before clipping
at every step, the threshold and the share of clipped steps) and ``gradflow.png`` (the loss over
``||dL/dh_t||`` as a heatmap over the chunk's positions and training time).
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.train import checkpoint as ckpt


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw a run's loss, clipping and gradient-flow figures", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="OUT", help="run directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.viz.training import clipping_summary, plot_run, read_steps

    out = args.run_dir
    if not out.is_dir():
        raise UsageError(f"OUT: {out} is not a run directory")
    if (ckpt.run_format(out) or "").startswith("rnnlab-task-run/"):
        raise UsageError(f"OUT: {out} is a task run; its learning curve is {out / 'curve.png'}")
    _, _, train_cfg, _ = ckpt.read_config(out)
    written = plot_run(out, train_cfg.clip_norm)
    if not written:
        raise UsageError(f"OUT: {out} has no training records yet")
    print(json.dumps({"clipping": clipping_summary(read_steps(out))}))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
