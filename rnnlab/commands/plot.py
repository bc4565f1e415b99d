"""``rnnlab plot OUT``: redraw a run's figures from its records.

``loss.png`` (training and validation loss), ``clipping.png`` (the gradient norm before clipping
at every step, the threshold and the share of clipped steps), ``gradflow.png`` (the loss over
``||dL/dh_t||`` as a heatmap over the positions and training time), and the figures of the task:
a long-range task's ``curve.png``, a classifier's ``confusion.png``.
"""

from __future__ import annotations

import json

from rnnlab.commands.common import UsageError, path_arg
from rnnlab.commands.reports import draw
from rnnlab.runs import read_results, read_steps
from rnnlab.tasks import read_run
from rnnlab.train.options import OptimConfig


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw a run's loss, clipping and gradient-flow figures", description=__doc__)
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnnlab.viz.training import clipping_summary

    out = args.run_dir
    if not out.is_dir():
        raise UsageError(f"OUT: {out} is not a run directory")
    config = read_run(out)
    kind = config.kind
    longrange = None
    if kind == "sequence":
        from rnnlab.data.tasks import make_task
        from rnnlab.models.sequence import SequenceConfig

        model = config.section("model", SequenceConfig)
        longrange = make_task(model.task, model.steps, model.data_seed)
    written = draw(out, kind, config.section("optim", OptimConfig).clip_norm, read_results(out), longrange)
    if not written:
        raise UsageError(f"OUT: {out} has no training records yet")
    print(json.dumps({"clipping": clipping_summary(read_steps(out))}))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
