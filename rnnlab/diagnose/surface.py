"""Error surfaces of one-unit recurrent nets: the cliff, and what gradient clipping does on it.

Two models, both computed in float64 by unrolling the recurrence and differentiating with autograd.

**The linear unit of the study notes.** One linear neuron, input and output weights 1, no bias,
recurrent weight ``w``, input ``[1, 0, ..., 0]``::

    h_1 = 1,    h_t = w · h_{t-1},    y_T = h_T = w^(T-1)

We ask the unit to *remember* its input: the loss is ``(y_T - target)^2`` with ``target = 1`` by
default, so ``w = 1`` is the solution. With ``T = 1000``, ``y_T`` is ``≈ 4e-5`` at ``w = 0.99`` and
``≈ 2e4`` at ``w = 1.01``: for ``w < 1`` the surface is a plain (loss ≈ 1, gradient ≈ 0), for ``w > 1``
a wall, and the only way to the minimum is a narrow valley between the two.
Closed form: ``dL/dw = 2 (y_T - target) (T-1) w^(T-2)``.

**A one-unit tanh RNN**, the one-hidden-unit example of Pascanu, Mikolov & Bengio (2013), "On the
difficulty of training recurrent neural networks" (ICML; its error surface is their Fig. 6), with
tanh in place of the sigmoid::

    x_t = w · tanh(x_{t-1}) + b,    t = 1..T,    loss = (x_T - target)^2

For ``w > 1`` the map has two stable fixed points; the positive one exists only above the
saddle-node curve ``b = fold_bias(w)``. From ``x_0`` above the fold point, ``x_T`` follows the
positive fixed point until ``b`` drops below that curve, then jumps to the negative one: at
``T = 50`` a wall in the loss a few thousandths wide. With ``target = 0.5``, reachable near the wall
only on the valley at ``w < cosh²(0.5) ≈ 1.27``, gradient descent from the right slides down along
the wall; a step that lands on the wall meets a gradient of ``10^3`` or more and, unclipped, is
thrown far away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

DTYPE = torch.float64
# The demonstration's defaults: from DEMO_START with these settings the unclipped path lands on the
# wall at step 12 and is thrown about 270 away; the clipped paths reach the valley (tests/test_surface.py).
DEMO_START, DEMO_LR, DEMO_STEPS, CLIP = (3.5, -1.25), 0.01, 300, 15.0


# --------------------------------------------------------------------------- the linear unit (1-D)


def linear_unit_output(w: Tensor, steps: int) -> Tensor:
    """``y_T`` of the linear unit by running the recurrence for ``steps`` time steps (differentiable).

    Args:
        w: recurrent weights, any shape; each entry is an independent unit.
        steps: sequence length ``T >= 1``; the input is ``[1, 0, ..., 0]``.

    Returns:
        ``h_T`` with the shape of ``w``.
    """
    h = torch.zeros_like(w)  # h_0
    for t in range(1, steps + 1):
        x_t = 1.0 if t == 1 else 0.0  # the input [1, 0, ..., 0]; input and output weights are 1
        h = w * h + x_t
    return h


def linear_surface(w: Tensor, steps: int, target: float = 1.0) -> dict[str, Tensor]:
    """Loss and ``dloss/dw`` of the linear unit at each ``w``, by autograd through the unrolled loop.

    Args:
        w: recurrent weights, shape ``(N,)`` (converted to float64).
        steps: sequence length ``T``.
        target: the wanted ``y_T``; the loss is ``(y_T - target)^2``.

    Returns:
        ``{"w", "y", "loss", "grad"}``, each of shape ``(N,)``, detached.
    """
    w = w.detach().to(DTYPE).clone().requires_grad_(True)
    y = linear_unit_output(w, steps)  # (N,)
    loss = (y - target) ** 2
    # the units are independent, so the gradient of the sum is each unit's own derivative
    (grad,) = torch.autograd.grad(loss.sum(), w)
    return {"w": w.detach(), "y": y.detach(), "loss": loss.detach(), "grad": grad}


def linear_closed_form(w: Tensor, steps: int, target: float = 1.0) -> dict[str, Tensor]:
    """The same from the closed form ``y_T = w^(T-1)``, ``dL/dw = 2 (y_T - target)(T-1) w^(T-2)``.

    Args:
        w: recurrent weights, shape ``(N,)``.
        steps: sequence length ``T >= 2``.
        target: the wanted ``y_T``.

    Returns:
        ``{"w", "y", "loss", "grad"}``, each of shape ``(N,)``.
    """
    w = w.detach().to(DTYPE)
    y = w ** (steps - 1)
    return {"w": w, "y": y, "loss": (y - target) ** 2, "grad": 2 * (y - target) * (steps - 1) * w ** (steps - 2)}


def linear_w_range(steps: int) -> tuple[float, float]:
    """A range of ``w`` showing the plain and the wall for any ``T``: ``y_T`` from ``e^-50`` to ``e^15``.

    For ``T = 1000`` this is about ``[0.951, 1.015]``; it always contains 0.99, 1 and 1.01, stays
    within ``[0, 1.5]`` for short sequences and never overflows float64.
    """
    return min(0.99, max(0.0, 1 - 50 / (steps - 1))), max(1.01, 1 + min(15 / (steps - 1), 0.5))


# --------------------------------------------------------------------------- the tanh unit (2-D)


@dataclass(frozen=True)
class TanhUnit:
    """``x_t = w·tanh(x_{t-1}) + b`` for ``t = 1..steps`` from ``x0``; loss ``(x_T - target)^2``.

    ``x0 = 2`` lies above the fold point ``arccosh(sqrt(w))`` for every ``w < cosh²(2) ≈ 14``, so the
    wall is the saddle-node curve :func:`fold_bias`.
    """

    steps: int = 50
    x0: float = 2.0
    target: float = 0.5

    def output(self, w: Tensor, b: Tensor) -> Tensor:
        """``x_T`` for weights ``w`` and biases ``b`` of any broadcastable shapes (differentiable)."""
        x = torch.full(torch.broadcast_shapes(w.shape, b.shape), self.x0, dtype=DTYPE)
        for _ in range(self.steps):
            x = torch.addcmul(b, w, torch.tanh(x))
        return x

    def loss(self, w: Tensor, b: Tensor) -> Tensor:
        """``(x_T - target)^2``, elementwise over the broadcast shape of ``w`` and ``b``."""
        return (self.output(w, b) - self.target) ** 2


def fold_bias(w: Tensor) -> Tensor:
    """The saddle-node curve of ``x = w·tanh(x) + b``: below this ``b`` the positive fixed point is gone.

    At the fold ``w·sech²(x_f) = 1``, so ``x_f = arccosh(sqrt(w))`` and ``b = x_f - w·tanh(x_f)``.

    Args:
        w: recurrent weights, any shape.

    Returns:
        The bias on the curve, same shape (NaN where ``w <= 1``: there is no fold).
    """
    w = w.to(DTYPE)
    x_f = torch.arccosh(torch.sqrt(w))
    return torch.where(w > 1, x_f - w * torch.tanh(x_f), torch.nan)


def loss_grid(
    unit: TanhUnit, w_range: tuple[float, float], b_range: tuple[float, float], n: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The loss on an ``n × n`` grid over ``(w, b)``, in one vectorised pass.

    Args:
        unit: the model.
        w_range, b_range: inclusive ranges of the grid.
        n: points per axis.

    Returns:
        ``(w, b, loss)``: ``w`` of shape ``(n,)``, ``b`` of shape ``(n,)``, ``loss`` of shape ``(n, n)``
        indexed ``[b, w]`` (rows are biases, as an image).
    """
    w = torch.linspace(*w_range, n, dtype=DTYPE)
    b = torch.linspace(*b_range, n, dtype=DTYPE)
    with torch.no_grad():
        loss = unit.loss(w[None, :], b[:, None])  # (n, n)
    return w, b, loss


@dataclass
class Descent:
    """Gradient-descent paths, one per row of the starts.

    Attributes:
        points: ``(steps + 1, N, 2)`` parameters ``(w, b)`` after each step (the start first).
        grad_norms: ``(steps, N)`` norm of the raw gradient at each step.
        clipped: ``(steps, N)`` whether clipping changed that step.
        losses: ``(steps + 1, N)`` loss at each point.
        diverged: ``(N,)`` whether a path met a non-finite gradient (it stops where it was).
    """

    points: Tensor
    grad_norms: Tensor
    clipped: Tensor
    losses: Tensor
    diverged: Tensor

    def step_lengths(self) -> Tensor:
        """``(steps, N)`` Euclidean length of every step."""
        return (self.points[1:] - self.points[:-1]).norm(dim=-1)


def descend(
    unit: TanhUnit,
    starts: Tensor,
    lr: float,
    steps: int,
    max_norm: float | Tensor | None = None,
    max_value: float | Tensor | None = None,
) -> Descent:
    """Plain gradient descent on ``unit.loss`` from several starts at once, with optional clipping.

    Clipping follows Pascanu et al. (2013) by norm (``g ← g · max_norm / ||g||`` when
    ``||g|| > max_norm``) or, per component, by value (``g_i ← clamp(g_i, ±max_value)``, the notes'
    "set the gradient to the threshold"). Thresholds may differ per row (``inf`` turns one off), so
    clipped and unclipped paths run in the same batch.

    Args:
        unit: the model.
        starts: ``(N, 2)`` start points ``(w, b)``.
        lr: learning rate.
        steps: number of updates.
        max_norm: norm threshold, a float or ``(N,)``; ``None`` for no norm clipping.
        max_value: value threshold, a float or ``(N,)``; ``None`` for no value clipping.

    Returns:
        The :class:`Descent`.
    """
    p = starts.detach().to(DTYPE).clone()  # (N, 2)
    n = p.shape[0]
    max_norm, max_value = (
        torch.as_tensor(math.inf if v is None else v, dtype=DTYPE).expand(n) for v in (max_norm, max_value)
    )
    points, norms, clipped, losses = [p.clone()], [], [], []
    diverged = torch.zeros(n, dtype=torch.bool)
    for _ in range(steps):
        q = p.clone().requires_grad_(True)
        loss = unit.loss(q[:, 0], q[:, 1])  # (N,)
        (g,) = torch.autograd.grad(loss.sum(), q)  # (N, 2); rows are independent
        norm = g.norm(dim=1)  # (N,)
        g_clipped = g * torch.clamp(max_norm / norm, max=1.0)[:, None]
        g_clipped = torch.maximum(torch.minimum(g_clipped, max_value[:, None]), -max_value[:, None])
        new = p - lr * g_clipped
        bad = ~torch.isfinite(new).all(dim=1) | diverged  # a path that overflowed stays where it was
        diverged |= bad
        p = torch.where(bad[:, None], p, new)
        points.append(p.clone())
        norms.append(norm)
        clipped.append((norm > max_norm) | (g.abs() > max_value[:, None]).any(dim=1))
        losses.append(loss.detach())
    with torch.no_grad():
        losses.append(unit.loss(p[:, 0], p[:, 1]))
    return Descent(
        points=torch.stack(points),
        grad_norms=torch.stack(norms) if norms else torch.zeros(0, n, dtype=DTYPE),
        clipped=torch.stack(clipped) if clipped else torch.zeros(0, n, dtype=torch.bool),
        losses=torch.stack(losses),
        diverged=diverged,
    )


NEAR_CLIFF = ((2.0, 4.0), 0.6)  # where random starts go: range of w, and how far above the fold b may be


def starts_near_cliff(
    count: int, seed: int, w_range: tuple[float, float] = NEAR_CLIFF[0], depth: float = NEAR_CLIFF[1]
) -> Tensor:
    """``(count, 2)`` random ``(w, b)`` on the low side of the cliff: ``b`` up to ``depth`` above the fold.

    Args:
        count: number of points.
        seed: seed of their own generator (the global RNG is not touched).
        w_range: range of ``w`` (all ``> 1``).
        depth: how far above :func:`fold_bias` the bias may start.
    """
    gen = torch.Generator().manual_seed(seed)
    w = w_range[0] + (w_range[1] - w_range[0]) * torch.rand(count, generator=gen, dtype=DTYPE)
    b = fold_bias(w) + 0.02 + (depth - 0.02) * torch.rand(count, generator=gen, dtype=DTYPE)
    return torch.stack([w, b], dim=1)


# --------------------------------------------------------------------------- summaries for the CLI

NOTES_W = (0.99, 1.0, 1.01)  # the study notes' numbers: y_1000 = 1 at w = 1, ≈ 2e4 at w = 1.01


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no inf/NaN


def linear_summary(steps: int, target: float = 1.0, at: tuple[float, ...] = NOTES_W) -> dict:
    """``y_T``, loss and ``dL/dw`` (autograd and closed form) of the linear unit at a few ``w``.

    Args:
        steps: sequence length ``T``.
        target: the wanted ``y_T``.
        at: the weights to report.

    Returns:
        A JSON-ready dict: ``T``, ``target``, ``points`` (one dict per ``w``) and
        ``grad_ratio_1.01_over_0.99`` (``|dL/dw|`` at 1.01 over that at 0.99, when both are given).
    """
    w = torch.tensor(at, dtype=DTYPE)
    auto, closed = linear_surface(w, steps, target), linear_closed_form(w, steps, target)
    points = [
        {
            "w": float(w[i]),
            "y_T": _finite(float(auto["y"][i])),
            "loss": _finite(float(auto["loss"][i])),
            "grad": _finite(float(auto["grad"][i])),
            "y_T_closed_form": _finite(float(closed["y"][i])),
            "grad_closed_form": _finite(float(closed["grad"][i])),
        }
        for i in range(len(at))
    ]
    out = {"T": steps, "target": target, "loss": "(y_T - target)^2", "points": points}
    g = {p["w"]: p["grad"] for p in points}
    if g.get(1.01) is not None and g.get(0.99):
        out["grad_ratio_1.01_over_0.99"] = _finite(abs(g[1.01] / g[0.99]))
    return out


PATHS = ("no clipping", "norm clipping", "value clipping")


@dataclass
class ClippingStudy:
    """Three paths from one start (``PATHS``) and, optionally, pairs from random starts near the cliff.

    Attributes:
        unit, lr, clip: the settings.
        descent: all paths in one batch: rows 0-2 are ``PATHS``; then ``count`` unclipped rows and
            ``count`` norm-clipped rows from :func:`starts_near_cliff`.
        count, seed: the random starts.
    """

    unit: TanhUnit
    lr: float
    clip: float
    descent: Descent
    count: int
    seed: int

    def thrown(self, rows: slice | int) -> Tensor:
        """Whether a path made a step longer than ten times the norm-clipped bound ``lr · clip``."""
        return self.descent.step_lengths()[:, rows].amax(dim=0) > 10 * self.lr * self.clip

    def summary(self) -> dict:
        """A JSON-ready summary: per path start, end, final loss, largest step, clipped steps."""
        d, lengths = self.descent, self.descent.step_lengths()
        paths = {}
        for i, name in enumerate(PATHS):
            longest = int(lengths[:, i].argmax()) + 1 if len(lengths) else 0  # 1 = the first update
            paths[name] = {
                "start": d.points[0, i].tolist(),
                "end": d.points[-1, i].tolist(),
                "final_loss": _finite(float(d.losses[-1, i])),
                "largest_step": float(lengths[:, i].max()) if len(lengths) else 0.0,
                "largest_step_number": longest,
                "largest_gradient_norm": _finite(float(d.grad_norms[:, i].max())) if len(lengths) else 0.0,
                "clipped_steps": int(d.clipped[:, i].sum()),
                "diverged": bool(d.diverged[i]),
            }
        out = {
            "model": f"x_t = w*tanh(x_(t-1)) + b, x_0 = {self.unit.x0}, T = {self.unit.steps}",
            "loss": f"(x_T - {self.unit.target})^2",
            "lr": self.lr,
            "clip": self.clip,
            "steps": len(lengths),
            "norm_clipped_step_bound": self.lr * self.clip,
            "paths": paths,
        }
        if self.count:
            plain, clipped = slice(3, 3 + self.count), slice(3 + self.count, 3 + 2 * self.count)
            final, longest = d.losses[-1], lengths.amax(dim=0) if len(lengths) else torch.zeros(d.points.shape[1])
            out["random_starts"] = {
                "count": self.count,
                "seed": self.seed,
                "where": f"w in {list(NEAR_CLIFF[0])}, b up to {NEAR_CLIFF[1]} above the saddle-node curve",
                "thrown_means": "a step longer than 10 * lr * clip",
                "thrown_without_clipping": int(self.thrown(plain).sum()),
                "thrown_with_norm_clipping": int(self.thrown(clipped).sum()),
                "largest_step_without_clipping": float(longest[plain].max()),
                "largest_step_with_norm_clipping": float(longest[clipped].max()),
                "median_final_loss_without_clipping": _finite(float(final[plain].median())),
                "median_final_loss_with_norm_clipping": _finite(float(final[clipped].median())),
                "worst_final_loss_without_clipping": _finite(float(final[plain].max())),
                "worst_final_loss_with_norm_clipping": _finite(float(final[clipped].max())),
            }
        return out


def clipping_study(
    unit: TanhUnit, start: tuple[float, float], lr: float, steps: int, clip: float, count: int = 0, seed: int = 0
) -> ClippingStudy:
    """Descend from ``start`` without clipping, with norm and with value clipping (all at ``clip``).

    Also runs ``count`` random starts near the cliff (:func:`starts_near_cliff`) with and without norm
    clipping, in the same batch, to show how often the demonstration's throw happens.

    Args:
        unit: the model.
        start: ``(w, b)`` of the three main paths.
        lr: learning rate.
        steps: number of updates.
        clip: threshold for both kinds of clipping.
        count: number of random starts (0 for none).
        seed: seed of the random starts.

    Returns:
        The :class:`ClippingStudy`.
    """
    extra = starts_near_cliff(count, seed) if count else torch.zeros(0, 2, dtype=DTYPE)
    starts = torch.cat([torch.tensor([start] * 3, dtype=DTYPE), extra, extra])  # (3 + 2 count, 2)
    inf = math.inf
    max_norm = torch.tensor([inf, clip, inf] + [inf] * count + [clip] * count, dtype=DTYPE)
    max_value = torch.tensor([inf, inf, clip] + [inf] * 2 * count, dtype=DTYPE)
    descent = descend(unit, starts, lr, steps, max_norm=max_norm, max_value=max_value)
    return ClippingStudy(unit=unit, lr=lr, clip=clip, descent=descent, count=count, seed=seed)
