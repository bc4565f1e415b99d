"""The guard against divergence: a loss or gradient that is NaN or infinite, or a loss spike.

Karpathy's char-rnn stops a character model whose training loss exceeds three times the loss of
its first step ("loss is exploding, aborting"). That catches a blow-up from the start but not a
model that has learnt (1.5 nats per character) and then leaps to 4 or 5, worse than guessing
uniformly. Here the limit is ``factor`` times the loss's running level (an exponential average,
so it follows the loss down as the model learns), and never below the loss of the first step, so a
model that fits its data almost perfectly (a level near 0) is not stopped by the noise of a batch.
At the first steps the level is the first loss, and the rule is char-rnn's.

The step whose loss trips the guard is not taken: the weights stay those the last checkpoint
(or a later, still finite, step) holds, and the run ends as diverged.
"""

from __future__ import annotations

import math
from pathlib import Path

from rnnlab.train.options import OptimConfig
from rnnlab.train.state import TrainerState

SMOOTHING = 0.05  # a step's weight in the running level: about the last 20 steps count


def check_step(loss: float, norm: float, state: TrainerState, factor: float) -> str | None:
    """Why the run must stop at a step with training ``loss`` and gradient ``norm``, or ``None``.

    A step that passes moves the running level (``state.loss_level``, saved with checkpoints so
    that a resumed run keeps guarding from where it was).

    Args:
        loss: the step's training loss (averaged over every process).
        norm: the gradient's global norm before clipping.
        state: the trainer's counters; ``loss_start`` and ``loss_level`` are read and updated.
        factor: the spike factor (``--spike-factor``); 0 guards against NaN and inf only.

    Returns:
        ``None``, or the reason, e.g. ``"the training loss 9.81 is over 3 times its running level 1.52"``.
    """
    if not math.isfinite(loss):
        return f"the training loss is {loss}"
    if not math.isfinite(norm):
        return f"the gradient norm is {norm}"
    if state.loss_start is None or state.loss_level is None:
        state.loss_start = state.loss_level = loss
        return None
    limit = max(factor * state.loss_level, state.loss_start)
    if factor and loss > limit:
        level = f"its running level {state.loss_level:.4g}"
        if limit == state.loss_start:
            level = f"{level} and the first step's {state.loss_start:.4g}"
        return f"the training loss {loss:.4g} is over {factor:g} times {level}"
    state.loss_level += SMOOTHING * (loss - state.loss_level)
    return None


def diverged_message(step: int, reason: str, kept: int | None, out: Path, optim: OptimConfig) -> str:
    """What a diverged run says: where and why, and how to go on.

    The advice halves the learning rate (the schedule's base rate, which ``--lr`` sets) or the
    clipping norm (a norm of 1 where there was no clipping), from the checkpoint if there is one.

    Args:
        step: the step that diverged.
        reason: why (:func:`check_step`'s reason, or the weights').
        kept: the step of the last checkpoint, or ``None`` if none was written.
        out: the run directory.
        optim: the run's optimisation options.
    """
    smaller = f"--lr {optim.lr / 2:g} (or --clip-norm {optim.clip_norm / 2 if optim.clip_norm else 1.0:g})"
    if kept is None:
        how = f"no checkpoint was written: start again with {smaller}"
    else:
        how = f"the checkpoints keep the weights of step {kept}: go on with --resume {out} {smaller}"
    return f"diverged at step {step} ({reason}); {how}"
