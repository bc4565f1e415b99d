"""Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

Each class *is* its ``torch.nn`` twin (a subclass): the same constructor, checks and exception
types, parameters (``weight_ih_l0``, ..., ``_flat_weights``), ``flatten_parameters``,
``proj_size``, state dicts, pickling, and on a plain call the very same ``forward``, so
``torch.compile``, ``torch.export``, ONNX export, ``quantize_dynamic``, parametrizations, pruning
and ``torch.func.functional_call`` treat them as they treat ``torch.nn``. On top they add:

- ``forget_bias`` (LSTM): the forget-gate bias starts at 1.0 (``None`` keeps PyTorch's
  initialisation);
- ``lengths=`` or ``mask=`` in ``forward`` for padded batches: outputs are zero past each
  sequence's end and the state is the one after its last valid step;
- ``path=``: ``"fused"`` (PyTorch's kernel), ``"bptt"`` (rnnlab's explicit BPTT) or
  ``"steps"`` (the reference step loop), ``"auto"`` choosing the fused kernel except inside a
  :class:`rnnlab.GradientFlow` block, which records ``||dL/dh_t||`` on the other two.

The other paths run :class:`rnnlab.Recurrent`'s layer loop on the module's own parameters
(through ``torch.func.functional_call``), so there is one loop for both.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnnlab import checks
from rnnlab.bptt import GradientFlow
from rnnlab.engine import padded_lengths
from rnnlab.layers import PATHS, Recurrent, cell_key, through_packing

_TEMPLATE = "_rnnlab_templates"  # per thread, the meta-device Recurrent kept outside the module's state


class _DropIn:
    """rnnlab's additions, placed before the ``torch.nn`` class in the bases."""

    @property
    def path(self) -> str:
        """``"auto"``, ``"fused"``, ``"bptt"`` or ``"steps"``; checked when set."""
        return self.__dict__.get("_path", "auto")

    @path.setter
    def path(self, path: str) -> None:
        checks.choice("path", path, PATHS)
        if path != "auto" and path not in self.paths:
            checks.fail("path", f"one of {', '.join(self.paths)} for this {type(self).__name__}", path)
        self.__dict__["_path"] = path

    def _cell(self) -> tuple[str, dict]:
        """The registered cell and options computing one layer and direction."""
        raise NotImplementedError

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths this module can run on, fastest first."""
        return ("fused",) if self.proj_size else self._template().paths

    def resolved_path(self) -> str:
        """The path the next forward call takes."""
        if self.path != "auto":
            return self.path
        if GradientFlow.current() is not None and not self.proj_size:  # the kernel cannot report dL/dh_t
            return self.paths[1]
        return "fused"

    def forward(self, input, hx=None, lengths: Tensor | None = None, mask: Tensor | None = None):
        """``torch.nn``'s forward, plus ``lengths`` (``(B,)`` valid steps) or ``mask`` (valid steps,
        shaped like the input without its features) for padded batches."""
        plain = lengths is None and mask is None
        if plain and (torch.compiler.is_compiling() or self.resolved_path() == "fused"):
            return super().forward(input, hx)
        self._update_flat_weights()
        self._check_forward(input, hx)
        if not plain:
            if not isinstance(input, Tensor) or input.dim() != 3:
                kind = "a PackedSequence" if isinstance(input, PackedSequence) else "an unbatched input"
                checks.fail("lengths/mask", "a padded batch (a 3-D input)", kind)
            B, T = input.shape[:2] if self.batch_first else reversed(input.shape[:2])
            lengths = padded_lengths(lengths, mask, T, B, self.batch_first)
        path = self.resolved_path()
        if path == "fused":
            run = lambda packed: super(_DropIn, self).forward(packed, hx)  # noqa: E731
            return through_packing(run, input, lengths, self.batch_first)
        out, state = self._run_template(path, input, hx, lengths)
        return out, (state if self.mode == "LSTM" else state[0])

    def _run_template(self, path: str, input, hx, lengths: Tensor | None):
        """:class:`Recurrent`'s forward on ``path``, with this module's weights and settings."""
        template = self._template()
        template.train(self.training)
        template.dropout, template.batch_first, template.path = self.dropout, self.batch_first, path
        names = [cell_key(name, template.num_directions) for name in self._flat_weights_names]
        weights = dict(zip(names, self._flat_weights))
        return torch.func.functional_call(template, weights, (input, hx), {"lengths": lengths})

    def _check_forward(self, input, hx) -> None:
        """The checks ``torch.nn``'s forward makes, with its exception types."""
        if isinstance(input, PackedSequence):
            self.check_input(input.data, input.batch_sizes)
            if hx is not None:
                self.check_forward_args(input.data, hx, input.batch_sizes)
            return
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected a 2-D or 3-D input, got {input.dim()}-D")
        batched = input.dim() == 3
        if input.shape[1 if self.batch_first and batched else 0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")  # torch.nn's words
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        if hx is None:
            self.check_input(input, None)
            return
        parts = _state_parts(hx, self.mode == "LSTM")
        if any(h.dim() != (3 if batched else 2) for h in parts):
            got = ", ".join(f"{h.dim()}-D" for h in parts)
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"for a {kind} input hx must be {kind[-3:]} too, got {got}")
        if any(h.dtype != input.dtype for h in parts):
            raise RuntimeError(f"hx dtype must match the input's {input.dtype}, got {[h.dtype for h in parts]}")
        if not batched:
            parts = tuple(h.unsqueeze(1) for h in parts)
        self.check_forward_args(input, parts if self.mode == "LSTM" else parts[0], None)

    def _template(self) -> Recurrent:
        """A :class:`Recurrent` of this shape on the meta device, which runs on this module's weights."""
        cell, options = self._cell()
        sizes = (self.input_size, self.hidden_size, self.num_layers)
        shape = (cell, *options.items(), *sizes, self.bidirectional, self.bias)
        # not a submodule (no parameters, state or pickle), and one per thread: a call swaps weights into it
        local = self.__dict__.setdefault(_TEMPLATE, threading.local())
        if getattr(local, "shape", None) != shape:  # made again if an attribute it reads was changed
            local.template = Recurrent(
                cell, self.input_size, self.hidden_size, self.num_layers, self.bidirectional,
                device="meta", bias=self.bias, **options,
            )  # fmt: skip
            local.shape = shape
        return local.template

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop(_TEMPLATE, None)
        return state

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", path={self.path!r}" if self.path != "auto" else "")


def _state_parts(hx, pair: bool) -> tuple[Tensor, ...]:
    """``hx`` as a tuple of tensors: ``(h, c)`` for an LSTM, ``(h,)`` else; RuntimeError if it is not that."""
    parts = tuple(hx) if pair and isinstance(hx, (tuple, list)) else (hx,)
    if len(parts) != (2 if pair else 1) or not all(isinstance(h, Tensor) for h in parts):
        want = "a tuple (h_0, c_0) of tensors" if pair else "a tensor h_0"
        raise RuntimeError(f"hx must be {want}, got {type(hx).__name__} of {len(parts)}")
    return parts


class RNN(_DropIn, nn.RNN):
    """Elman RNN stack, ``torch.nn.RNN`` with rnnlab's additions (``path``, ``lengths``/``mask``)."""

    def __init__(self, *args: Any, path: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = path

    def _cell(self) -> tuple[str, dict]:
        return "rnn", {"activation": self.nonlinearity}


class GRU(_DropIn, nn.GRU):
    """GRU stack, ``torch.nn.GRU`` with rnnlab's additions (``path``, ``lengths``/``mask``)."""

    def __init__(self, *args: Any, path: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = path

    def _cell(self) -> tuple[str, dict]:
        return "gru", {}


class LSTM(_DropIn, nn.LSTM):
    """LSTM stack, ``torch.nn.LSTM`` with rnnlab's additions; the forget-gate bias starts at
    ``forget_bias`` (1.0; Gers et al. 2000, Jozefowicz et al. 2015), on ``bias_ih`` with
    ``bias_hh`` zero on that slice, and ``None`` keeps PyTorch's initialisation."""

    forget_bias: float | None = None

    def __init__(self, *args: Any, forget_bias: float | None = 1.0, path: str = "auto", **kwargs: Any) -> None:
        if forget_bias is not None and not checks.is_finite(forget_bias):
            checks.fail("forget_bias", "a finite number or None", forget_bias)
        self.__dict__["forget_bias"] = None if forget_bias is None else float(forget_bias)  # read in __init__
        super().__init__(*args, **kwargs)
        self.path = path

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias is None or not self.bias:
            return
        H = self.hidden_size
        with torch.no_grad():
            for name in self._flat_weights_names:
                if name.startswith("bias_ih"):
                    getattr(self, name)[H : 2 * H].fill_(self.forget_bias)
                elif name.startswith("bias_hh"):
                    getattr(self, name)[H : 2 * H].zero_()

    def _cell(self) -> tuple[str, dict]:
        return "lstm", {"forget_bias": None}

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", forget_bias={self.forget_bias}" if self.forget_bias is not None else "")


class _DynamicQuantized:
    """Dynamic quantization of a drop-in: ``torch.ao``'s ``from_float`` takes ``torch.nn``'s exact
    classes only, so it is handed a ``torch.nn`` copy sharing the drop-in's weights."""

    def __init__(self, twin: type[nn.RNNBase], quantized: type[nn.Module]) -> None:
        self.twin, self.quantized = twin, quantized

    def from_float(self, mod: nn.RNNBase, use_precomputed_fake_quant: bool = False) -> nn.Module:
        options = {"bias": mod.bias, "batch_first": mod.batch_first, "dropout": mod.dropout}
        plain = self.twin(mod.input_size, mod.hidden_size, mod.num_layers, bidirectional=mod.bidirectional, **options)
        if getattr(mod, "proj_size", 0):
            checks.fail("quantized module", "an LSTM without proj_size (torch.ao's dynamic LSTM has none)", mod)
        plain.load_state_dict(mod.state_dict())
        plain.qconfig = mod.qconfig
        return self.quantized.from_float(plain, use_precomputed_fake_quant=use_precomputed_fake_quant)


def _register_quantized() -> None:
    """Let ``quantize_dynamic(model, {rnnlab.LSTM, rnnlab.GRU})`` quantize the drop-ins as their twins."""
    from torch.ao.nn.quantized import dynamic
    from torch.ao.quantization.quantization_mappings import DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS

    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS[LSTM] = _DynamicQuantized(nn.LSTM, dynamic.LSTM)
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS[GRU] = _DynamicQuantized(nn.GRU, dynamic.GRU)


_register_quantized()
