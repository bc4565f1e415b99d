"""``Recurrent``: a stack of any registered cell, with directions, dropout, masks and packing.

Three ways to run a stack, chosen by ``path``: PyTorch's fused kernels for the standard cells
(tanh/ReLU RNN and so IRNN, LSTM with a forget gate, GRU); the explicit-BPTT sequence function a
cell names as its ``bptt_sequence`` (see :mod:`rnnlab.bptt`), for every cell that names one; and
the generic step loop of :mod:`rnnlab.engine`, the reference, which runs any cell. ``"auto"``
takes the first that applies, except that between a fused kernel and explicit BPTT it takes the
one measured faster on the call's shape (:mod:`rnnlab.path_choice`).

Parameters are saved under ``torch.nn.RNN``'s names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
...), so state dicts move between ``torch.nn.LSTM`` and ``rnnlab.LSTM`` unchanged.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab import checks, path_choice
from rnnlab import dropout as dropouts
from rnnlab.bptt import GradientFlow, has_bptt, infer, run_sequence
from rnnlab.cells import make_cell
from rnnlab.cells.base import Cell, State
from rnnlab.engine import padded_lengths, unroll
from rnnlab.fused import flat_weights, run_fused

PATHS = ("auto", "fused", "bptt", "steps")
_FLAT_NAME = re.compile(r"^(?P<path>.+)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


class Recurrent(nn.Module):
    """A multi-layer, optionally bidirectional recurrent layer made of any registered cell.

    Args:
        cell: a name from :data:`rnnlab.cells.CELLS` (``"lstm"``, ``"gru"``, ``"irnn"``, ...).
        input_size: features of the input.
        hidden_size: features of each cell's hidden state.
        num_layers: stacked layers; layer ``l > 0`` reads layer ``l - 1``'s outputs.
        bidirectional: add a second cell per layer that reads the sequence backwards; outputs are
            the two directions concatenated.
        dropout: dropout on the outputs of every layer but the last (Zaremba et al. 2014).
        batch_first: input and output are ``(B, T, D)`` instead of ``(T, B, D)``.
        path: ``"auto"`` (the faster of fused kernel and explicit BPTT, timed per shape, else the
            one there is, else step loop; inside a
            :class:`rnnlab.bptt.GradientFlow` block explicit BPTT comes first), or one of
            ``"fused"``, ``"bptt"``, ``"steps"`` to insist on that path.
        **cell_kwargs: options of the cell (``activation``, ``forget_bias``, ``bias``, ...).

    Shapes:
        input ``(T, B, D)``, ``(B, T, D)`` with ``batch_first``, ``(T, D)`` unbatched, or a
        ``PackedSequence``. The state is a tuple with one tensor ``(num_layers * directions, B,
        ...)`` per entry of the cell's state (``state[0]`` is ``h``; LSTM adds ``c``).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = False,
        path: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **cell_kwargs: Any,
    ) -> None:
        super().__init__()
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        self.num_layers = checks.positive_int("num_layers", num_layers)
        self.dropout = checks.probability("dropout", dropout)
        if self.dropout > 0 and num_layers == 1:
            warnings.warn("dropout acts between layers; with num_layers=1 it has no effect", stacklevel=2)
        self.cell_name = cell
        self.bidirectional = bool(bidirectional)
        self.batch_first = bool(batch_first)
        self.num_directions = 2 if self.bidirectional else 1
        factory = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        self.layers = nn.ModuleList()
        layer_input = input_size
        for _ in range(num_layers):
            for _ in range(self.num_directions):
                self.layers.append(make_cell(cell, layer_input, hidden_size, **factory, **cell_kwargs))
            layer_input = self.layers[-1].output_size * self.num_directions
        self.output_size = layer_input
        self.path = checks.choice("path", path, PATHS)
        self._auto_choice: str | None = None  # what "auto" took at the last forward call
        if path != "auto" and path not in self.paths:
            checks.fail("path", f"one of {', '.join(self.paths)} for cell {cell!r}", path)
        self.register_state_dict_post_hook(_save_flat_names)
        self.register_load_state_dict_pre_hook(_load_flat_names)

    # ----------------------------------------------------------------- introspection
    @property
    def fused_mode(self) -> str | None:
        """The fused kernel that computes this stack, or ``None`` if only the step loop can."""
        modes = {c.fused_mode for c in self.layers}
        mode = modes.pop() if len(modes) == 1 else None
        if mode is None or len({c.bias_ih is None for c in self.layers}) != 1:
            return None
        return mode

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths this stack can run on, fastest first."""
        fused = ("fused",) if self.fused_mode is not None else ()
        bptt = ("bptt",) if all(has_bptt(c) for c in self.layers) else ()
        return (*fused, *bptt, "steps")

    def resolved_path(
        self, steps: int | None = None, batch_size: int | None = None, padded: bool = False, input_grad: bool = False
    ) -> str:
        """The path a forward call takes.

        With ``path="auto"`` and both a fused kernel and explicit BPTT at hand, the faster of the
        two for the shape ``steps x batch_size`` (``padded``: a padded batch with lengths, which the
        fused kernel reads through packing; ``input_grad``: the input or state wants a gradient,
        which frozen weights alone would not show), timed once per process and shape (see
        :mod:`rnnlab.path_choice`); without a shape, the path the last forward call took (the
        fused kernel before any).
        """
        if self.path != "auto":
            return self.path
        paths = self.paths
        if GradientFlow.current() is not None:  # the fused kernels cannot report dL/dh_t
            return "bptt" if "bptt" in paths else "steps"
        if paths[:2] != ("fused", "bptt"):
            return paths[0]
        if steps is None or batch_size is None:
            return self._auto_choice or paths[0]
        self._auto_choice = path_choice.fused_or_bptt(self, steps, batch_size, padded, input_grad)
        return self._auto_choice

    def cell_at(self, layer: int, direction: int = 0) -> Cell:
        """The cell of ``layer`` (0-based) and ``direction`` (1 = backward)."""
        return self.layers[layer * self.num_directions + direction]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Parameters per layer and direction, as ``torch.nn.RNNBase.all_weights``."""
        return [list(c.parameters()) for c in self.layers]

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            match = _FLAT_NAME.match(name)
            layers = self.__dict__.get("_modules", {}).get("layers")
            if match is None or layers is None:
                raise
            index = int(match["layer"]) * self.num_directions + (1 if match["rev"] else 0)
            if index >= len(layers) or (match["rev"] and not self.bidirectional):
                raise
            return getattr(layers[index], match["path"])

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zero state, one tensor ``(num_layers * directions, batch_size, ...)`` per state entry."""
        per_cell = [c.init_state(batch_size, device, dtype) for c in self.layers]
        return tuple(torch.stack(parts) for parts in zip(*per_cell))

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: State | Tensor | None = None,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, State]:
        """Run the stack over a batch of sequences.

        Args:
            input: see the class docstring.
            hx: initial state (a tuple, or a bare tensor for one-tensor states), or ``None``.
            lengths: valid steps per sequence ``(B,)`` for padded input.
            mask: alternatively, a ``(T, B)`` (``(B, T)`` with ``batch_first``) mask of valid steps.

        Returns:
            ``(output, state)``: output like the input with ``output_size`` features (zero past
            each sequence's end), and the state after each sequence's last valid step.
        """
        if isinstance(input, PackedSequence):
            if lengths is not None or mask is not None:  # a packed batch carries its own lengths
                checks.fail("lengths/mask", "a padded batch, not a PackedSequence", "a PackedSequence")
            return self._forward_packed(input, hx)
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            checks.fail("input", "a 3-D (T, B, D) or 2-D unbatched (T, D) tensor or a PackedSequence", got)
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(0 if self.batch_first else 1)
            if hx is not None:
                hx = tuple(s.unsqueeze(1) for s in _as_tuple(hx))
        self._check_input(input, input.shape[-1])
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, D)
        T, B = x.shape[0], x.shape[1]
        lengths = padded_lengths(lengths, mask, T, B, self.batch_first)
        state = self._check_state(hx, B, x)
        path = self.resolved_path(T, B, lengths is not None, infer.wants_grad(x, state))
        out, state = self._forward_on(path, input, state, lengths)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            state = tuple(s.squeeze(1) for s in state)
        return out, state

    def _forward_on(self, path: str, input: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """A padded or full batch in the layer's layout on ``path``; what forward runs, and what
        ``path="auto"`` times (:mod:`rnnlab.path_choice`)."""
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, D)
        if path == "fused" and lengths is None and self._drops_per_column():
            return self._forward_fused_layers(input, state)
        if path == "fused" and lengths is None:
            return run_fused(self.fused_mode, input, state, *self._fused_args(), self.batch_first)
        if path == "fused":
            out, state = through_packing(lambda packed: self._fused_packed(packed, state), x, lengths, False)
        else:
            out, state = self._forward_steps(x, state, lengths, path)
        return (out.transpose(0, 1) if self.batch_first else out), state

    def _forward_packed(self, packed: PackedSequence, hx: State | Tensor | None) -> tuple[PackedSequence, State]:
        data, batch_sizes, sorted_idx, unsorted_idx = packed
        self._check_input(data, data.shape[-1] if data.dim() == 2 else None)
        B = int(batch_sizes[0])
        state = self._check_state(hx, B, data)
        path = self.resolved_path(len(batch_sizes), B, padded=True, input_grad=infer.wants_grad(data, state))
        if path != "fused":
            padded, lengths = pad_packed_sequence(packed)  # (T, B, D) in the caller's order
            out, state = self._forward_steps(padded, state, lengths, path)
            if sorted_idx is not None:
                out = out.index_select(1, sorted_idx.to(out.device))
                lengths = lengths.index_select(0, sorted_idx.cpu())
            out_data = pack_padded_sequence(out, lengths).data
            return PackedSequence(out_data, batch_sizes, sorted_idx, unsorted_idx), state
        return self._fused_packed(packed, state)

    def _fused_packed(self, packed: PackedSequence, state: State) -> tuple[PackedSequence, State]:
        """The fused kernel over a packed batch, ``state`` in the caller's order of rows."""
        data, batch_sizes, sorted_idx, unsorted_idx = packed
        if sorted_idx is not None:
            state = tuple(s.index_select(1, sorted_idx) for s in state)
        out, state = run_fused(self.fused_mode, data, state, *self._fused_args(), False, batch_sizes)
        if unsorted_idx is not None:
            state = tuple(s.index_select(1, unsorted_idx) for s in state)
        return PackedSequence(out, batch_sizes, sorted_idx, unsorted_idx), state

    def _fused_args(self) -> tuple:
        has_bias = self.layers[0].bias_ih is not None
        return (
            flat_weights(self.layers),
            has_bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
        )

    def _drops_per_column(self) -> bool:
        return self.training and self.dropout > 0 and self.num_layers > 1 and dropouts.active()

    def _forward_fused_layers(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """The fused kernel layer by layer, with the dropouts between them drawn per column."""
        dirs, finals = self.num_directions, []
        for layer in range(self.num_layers):
            rows = slice(layer * dirs, (layer + 1) * dirs)
            weights = flat_weights(self.layers[rows])
            has_bias = self.layers[0].bias_ih is not None
            x, s = run_fused(
                self.fused_mode,
                x,
                tuple(t[rows] for t in state),
                weights,
                has_bias,
                1,
                0.0,
                True,
                self.bidirectional,
                self.batch_first,
            )
            finals.append(s)
            if layer < self.num_layers - 1:
                x = dropouts.dropout(x, self.dropout, dim=0 if self.batch_first else 1)
        return x, tuple(torch.cat(parts) for parts in zip(*finals))

    def _forward_steps(self, x: Tensor, state: State, lengths: Tensor | None, path: str) -> tuple[Tensor, State]:
        """Layer by layer and direction by direction, on the step loop or explicit BPTT (forward-only
        where no gradient is taken: :mod:`rnnlab.bptt.infer`)."""
        if path == "bptt" and infer.applies(self, x, state):
            return infer.run_stack(self, x, state, lengths)
        run = run_sequence if path == "bptt" else unroll
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                i = layer * self.num_directions + d
                y, s = run(self.layers[i], x, tuple(t[i] for t in state), lengths, reverse=d == 1)
                outs.append(y)
                finals.append(s)
            x = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]  # (T, B, dirs * O)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                x = dropouts.dropout(x, self.dropout)
        return x, tuple(torch.stack(parts) for parts in zip(*finals))

    # ----------------------------------------------------------------- checks
    def _check_input(self, x: Tensor, features: int | None) -> None:
        if features != self.input_size:
            checks.fail("input", f"{self.input_size} features in the last dimension", tuple(x.shape))
        if not x.is_floating_point():
            checks.fail("input", "a floating-point tensor", x.dtype)
        weight = next(self.parameters())
        if x.dtype != weight.dtype or x.device != weight.device:
            checks.fail(
                "input",
                f"dtype {weight.dtype} on {weight.device} like the weights",
                f"{x.dtype} on {x.device}",
            )

    def _check_state(self, hx: State | Tensor | None, batch: int, x: Tensor) -> State:
        """Validate a user-given state, or make the zero state."""
        if hx is None:
            return self.init_state(batch, x.device, x.dtype)
        hx = _as_tuple(hx)
        spec = self.layers[0].state_spec
        if len(hx) != len(spec):
            checks.fail("hx", f"a tuple of {len(spec)} tensor(s) for cell {self.cell_name!r}", f"{len(hx)}")
        rows = self.num_layers * self.num_directions
        for k, (s, (shape, dtype)) in enumerate(zip(hx, spec)):
            want = (rows, batch, *shape)
            if not isinstance(s, Tensor) or tuple(s.shape) != want:
                checks.fail(f"hx[{k}]", f"shape {want}", tuple(s.shape) if isinstance(s, Tensor) else s)
            if s.dtype != (dtype or x.dtype) or s.device != x.device:
                checks.fail(f"hx[{k}]", f"dtype {dtype or x.dtype} on {x.device}", f"{s.dtype} on {s.device}")
        return hx

    def extra_repr(self) -> str:
        extra = f"{self.cell_name!r}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.bidirectional:
            extra += ", bidirectional=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if self.batch_first:
            extra += ", batch_first=True"
        return extra


def _as_tuple(hx: State | Tensor) -> State:
    return (hx,) if isinstance(hx, Tensor) else tuple(hx)


def through_packing(run, x: Tensor, lengths: Tensor, batch_first: bool) -> tuple[Tensor, Any]:
    """``run(packed)`` over the padded batch ``x`` with ``lengths``, as a padded output again.

    The output is zero past each sequence's end and the state is taken after its last valid step.
    """
    T = x.shape[1 if batch_first else 0]
    out, state = run(pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False))
    return pad_packed_sequence(out, batch_first, total_length=T)[0], state


def cell_key(flat_name: str, num_directions: int) -> str | None:
    """``torch.nn.RNN``'s name ``{path}_l{layer}[_reverse]`` as ``layers.{i}.{path}``, else ``None``."""
    match = _FLAT_NAME.match(flat_name)
    if match is None or match["path"].startswith("layers."):
        return None
    index = int(match["layer"]) * num_directions + (1 if match["rev"] else 0)
    return f"layers.{index}.{match['path']}"


def _save_flat_names(module: Recurrent, state_dict: dict, prefix: str, local_metadata: Any) -> None:
    """Rename ``layers.{i}.{path}`` to ``torch.nn.RNN``'s ``{path}_l{layer}[_reverse]``."""
    head = prefix + "layers."
    for key in [k for k in state_dict if k.startswith(head)]:
        index, path = key[len(head) :].split(".", 1)
        layer, direction = divmod(int(index), module.num_directions)
        state_dict[f"{prefix}{path}_l{layer}{'_reverse' if direction else ''}"] = state_dict.pop(key)


def _load_flat_names(module: Recurrent, state_dict: dict, prefix: str, *args: Any) -> None:
    """Inverse of :func:`_save_flat_names`, applied before loading."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        inner = cell_key(key[len(prefix) :], module.num_directions)
        if inner is not None:
            state_dict[prefix + inner] = state_dict.pop(key)
