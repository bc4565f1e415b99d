"""Data-parallel training on PyTorch's own engine: ``torch.distributed`` with ``DistributedDataParallel``.

A run on N processes is started by ``torchrun``, or by ``rnnlab train --nproc N``, which calls
torch's elastic launcher as ``torchrun --standalone`` does. Every process runs the same trainer
on its shard of each batch, and DDP averages the gradients. Nothing here communicates by itself:
it joins the process group torchrun describes in the environment, wraps the model in DDP, and
sums a few figures with ``all_reduce``.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

#: how long a collective waits for the other ranks before it fails (a rank that died)
TIMEOUT = datetime.timedelta(seconds=float(os.environ.get("RNNLAB_DIST_TIMEOUT", "60")))


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes (``0`` of ``1`` when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def writer(self) -> bool:
        """Whether this process writes the run's files and prints (rank 0)."""
        return self.rank == 0

    def share(self, count: int, what: str) -> slice:
        """This rank's contiguous share of ``count`` items (streams, examples), an equal part each."""
        if count % self.size:
            raise ValueError(f"{what}: {count} does not split evenly over {self.size} processes")
        return self.part(count)

    def part(self, count: int) -> slice:
        """This rank's contiguous part of ``count`` items, the parts as equal as can be (the first
        ``count % size`` ranks take one more): the examples of a batch or of a validation set."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def take(self, indices: list[int], sizes: list[int] | None = None) -> tuple[list[int], float]:
        """This rank's part of a batch's examples, and the weight of the mean loss over them: the
        processes times their share of the batch (of its examples, or of what the loss averages
        over, ``sizes[j]`` for ``indices[j]``: target tokens), so that the processes' gradients,
        averaged by DDP, are the gradient of the whole batch's mean. A rank left without examples
        (a batch smaller than the processes) runs the batch's first example at weight 0, so that
        every rank takes part in the all-reduce."""
        part = self.part(len(indices))
        mine = indices[part]
        if not mine:
            return indices[:1], 0.0
        sizes = sizes or [1] * len(indices)
        return mine, self.size * sum(sizes[part]) / sum(sizes)


#: one process, alone: the world of what runs on one process only (the final scores of the writer)
ALONE = World()


def launched() -> bool:
    """Whether ``torchrun`` started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def lost_peer(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another process died or hung."""
    text = str(error)
    return isinstance(error, dist.DistError) or any(k in text for k in ("gloo", "Connection reset", "timed out"))


def join() -> World:
    """Join the process group torchrun describes (gloo: the trainers run on the CPU), once; the world."""
    if not launched():
        return World()
    global _LAST
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=TIMEOUT)  # the trainers run on the CPU
        _LAST = dist.new_group(backend="gloo", timeout=LAST_WAIT)
    return current()


#: how long the other processes wait at the end for the writer's last files (a test set's scores)
LAST_WAIT = datetime.timedelta(hours=12)
_LAST = None  # the group of that last wait, without the training's short timeout


def current() -> World:
    """The world this process is in now."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def leave(together: bool = False) -> None:
    """Leave the process group, if this process joined one; ``together``: once all processes are
    done (after a run that ended well: the writer's results may take a while). Processes that left
    one by one, while the writer was still at work, could abort in gloo's teardown."""
    global _LAST
    if dist.is_available() and dist.is_initialized():
        if together and _LAST is not None:
            with contextlib.suppress(RuntimeError):  # a process that died meanwhile: leave anyway
                dist.barrier(group=_LAST)
        _LAST = None
        dist.destroy_process_group()


def _alone(world: World | None) -> bool:
    """Whether ``world`` (by default the current one) is one process: nothing to exchange."""
    return (world if world is not None else current()).size == 1


def _reduce(values: list[float], op, world: World | None = None) -> list[float]:
    if _alone(world):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t, op=op)
    return t.tolist()


def all_sum(values: list[float], world: World | None = None) -> list[float]:
    """The sums of ``values`` over all ranks of ``world`` (default: the current one), in float64; the
    values themselves when it is one process (as :data:`ALONE`, what rank 0 alone runs)."""
    return _reduce(values, dist.ReduceOp.SUM, world)


def all_max(values: list[float]) -> list[float]:
    """The maxima of ``values`` over all ranks (flags agreed: any rank's ``1`` wins)."""
    return _reduce(values, dist.ReduceOp.MAX)


def gather_columns(t: Tensor, dim: int) -> Tensor:
    """The ranks' parts of a tensor split along ``dim`` (streams), joined in rank order."""
    world = current()
    if world.size == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world.size)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=dim)


def global_figures(figures: dict[str, float]) -> dict[str, float]:
    """A step's figures over all processes: ``tokens`` summed, the others (``loss``, metrics)
    their exact mean over what they average (``weight``: the examples or tokens of this process's
    part, by default its ``tokens``), which is dropped."""
    figures = dict(figures)
    weight = figures.pop("weight", figures["tokens"])
    if current().size == 1:
        return figures
    keys = sorted(k for k in figures if k != "tokens")
    sums = all_sum([figures["tokens"], weight, *(figures[k] * weight for k in keys)])
    return {"tokens": sums[0], **{k: v / sums[1] for k, v in zip(keys, sums[2:])}}


def gather_parts(mine: list[list[int]], part: slice, lengths: list[int], world: World | None = None) -> list[list[int]]:
    """All ranks' lists of integers (predictions), where each rank of ``world`` (default: the current
    one) holds the items ``part`` of ``len(lengths)`` items of known lengths; in order, on every rank
    (an all-reduce of a vector that holds each rank's items in their places and zeros elsewhere)."""
    if _alone(world):
        return mine
    ends = torch.tensor(lengths, dtype=torch.int64).cumsum(0).tolist()
    starts = [0, *ends[:-1]]
    flat = torch.zeros(ends[-1] if ends else 0, dtype=torch.int64)
    for i, item in zip(range(part.start, part.stop), mine):
        flat[starts[i] : ends[i]] = torch.tensor(item, dtype=torch.int64)
    dist.all_reduce(flat)
    values = flat.tolist()
    return [values[a:b] for a, b in zip(starts, ends)]


#: where the processes' random states are kept in a checkpoint (among the task's tensors)
RANDOM_STATES = "rng.processes"


def seed_processes(seed: int, tensors: dict[str, Tensor] | None = None, step: int = 0) -> None:
    """Give each of several processes its own random stream (dropout masks): resumed from
    ``tensors`` (a checkpoint's, saved by :func:`random_states`) when it was saved by as many
    processes, else seeded by ``seed``, the rank and ``step``. One process keeps its stream as it is."""
    world = current()
    if world.size == 1:
        return
    states = (tensors or {}).get(RANDOM_STATES)
    if states is not None and states.shape[0] == world.size:
        torch.set_rng_state(states[world.rank].clone())
    else:  # a new run, or another number of processes: new streams, one per process, seeded
        torch.manual_seed(seed + 1_000_003 * world.rank + 7919 * step)


def random_states() -> dict[str, Tensor]:
    """Every process's random state, a row each (to resume each process's stream), when several train."""
    if current().size == 1:
        return {}
    return {RANDOM_STATES: gather_columns(torch.get_rng_state().unsqueeze(0), 0)}


def gather_texts(mine: list[str], part: slice, count: int, world: World | None = None) -> list[str]:
    """All ranks' texts (outputs decoded from a part of ``count`` inputs each), in order, on every
    rank of ``world`` (default: the current one)."""
    if _alone(world):
        return mine
    encoded = [list(text.encode()) for text in mine]
    lengths = [0.0] * count
    lengths[part] = [float(len(e)) for e in encoded]
    lengths = [int(n) for n in all_sum(lengths)]
    return [bytes(b).decode() for b in gather_parts(encoded, part, lengths)]


def agree(elapsed: float, signalled: bool) -> tuple[float, bool]:
    """The processes' common clock and signal: the longest ``elapsed`` (so that the schedule, the
    budget and every limit come out alike everywhere) and whether any process was signalled."""
    if current().size == 1:
        return elapsed, signalled
    elapsed, flag = all_max([elapsed, float(signalled)])
    return elapsed, bool(flag)


class _Methods(nn.Module):
    """A model whose forward runs any of its methods, named by ``_method``: DDP averages the gradients
    of what runs inside its forward only, and a task may train through ``model.loss(...)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args, _method: str = "forward", **kwargs):
        return getattr(self.model, _method)(*args, **kwargs)


class Replica(DistributedDataParallel):
    """DDP around a task's model: called, or any of its methods called (``replica.loss(batch)``),
    through DDP's forward; its other attributes (``config``, ``rnn``, ...) read through."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(_Methods(model))

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":  # not built yet
                raise
        value = getattr(self.module.model, name)
        if inspect.ismethod(value):  # through DDP's forward
            return lambda *args, **kwargs: self(*args, _method=name, **kwargs)
        return value


def replicate(model: nn.Module) -> nn.Module:
    """``model`` in DDP when several processes train it (rank 0's weights broadcast to all), else itself."""
    if current().size == 1:
        return model
    return Replica(model)
