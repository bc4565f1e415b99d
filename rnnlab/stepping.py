"""One step of a whole language model per call: the path of sampling, one token at a time.

Run through its modules, one step of a model at batch 1 is a dozen PyTorch calls from Python
(embedding, each layer's kernel, the readout), each with its checks and allocations, for very
little arithmetic. :class:`Stepper` prepares the weights once instead and then makes one
compiled call per step (``stack_step`` in ``csrc/infer.cpp``) for every layer and the readout:

- the first layer's input side is looked up, not computed: ``embedding(id) @ W_ih^T + b`` is
  tabled for every id of the vocabulary once (one GEMM), and a step reads one row (for
  vocabularies too large to table, ``TABLE_LIMIT``, it is computed for the step's ids);
- the states of all layers live in one ``(B, L, H)`` buffer updated in place;
- each layer above reads the one below's new ``h`` where it lies.

The arithmetic is that of the cells (``rnnlab.bptt.infer.step``), so the logits are those of
``model(ids, state)`` to float rounding. Elsewhere than float32 on the CPU the same loop runs in
PyTorch operations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.bptt import infer, native
from rnnlab.cells.base import State
from rnnlab.models.language_model import LanguageModel

TABLE_LIMIT = 1 << 24  # entries (64 MiB of float32) up to which the first layer's input side is tabled


class Stepper:
    """A language model's next-token logits, one step at a time, with the state carried inside.

    Args:
        model: a :class:`rnnlab.models.language_model.LanguageModel` whose layers are standard
            cells in one direction (see :meth:`fits`), in evaluation mode.
        state: the state to start from, as ``model(ids, state)`` takes and returns it.
        batch_size: sequences stepped together (used when ``state`` is ``None``).

    The weights are read once, when the stepper is made: make a new one after changing them.
    """

    @staticmethod
    def fits(model: LanguageModel) -> bool:
        """Whether ``model`` can be stepped here: standard cells, one direction, no dropout acting."""
        if not isinstance(model, LanguageModel) or model.training or model.rnn.bidirectional:
            return False
        return all(infer.kind_of(c) is not None for c in model.rnn.layers)

    @torch.no_grad()
    def __init__(self, model: LanguageModel, state: State | None = None, batch_size: int = 1) -> None:
        if not self.fits(model):
            raise ValueError("Stepper: the model needs standard cells in one direction, in evaluation mode")
        cells = list(model.rnn.layers)
        self.kind = infer.kind_of(cells[0])
        V, GH = model.config.vocab_size, cells[0].weight_hh.shape[0]
        self.embed, self.first, self.one_hot = model.embed, cells[0], model.embedding is None
        self.table = None  # past TABLE_LIMIT the first layer's input side is computed at each step
        if V * GH <= TABLE_LIMIT:
            self.table = self._input_side(torch.arange(V, device=model.readout.weight.device))  # (V, G*H)
        self.w_ih, self.w_hh, self.bias, self.b_hn = infer.stack_weights(cells)
        self.w_out = model.readout.weight.detach().contiguous()
        self.b_out = model.readout.bias.detach() if model.readout.bias is not None else None
        if state is None:
            state = model.init_state(batch_size)
        own = [s.transpose(0, 1).clone(memory_format=torch.contiguous_format) for s in state]  # (B, L, H)
        self.hs, self.cs = own[0], own[1] if len(own) > 1 else None
        self.compiled = native.loops(self.hs)

    def _input_side(self, ids: Tensor) -> Tensor:
        """The first layer's ``embedding(ids) @ W_ih^T`` ``(N, G*H)``, its biases apart (for one-hot
        input, the columns of ``W_ih`` the ids pick: no ``(N, V)`` one-hot matrix is made)."""
        if self.one_hot:
            return self.first.weight_ih.detach().t().index_select(0, ids).contiguous()
        return (self.embed(ids) @ self.first.weight_ih.t()).contiguous()

    @property
    def state(self) -> State:
        """The current state, as ``model(ids, state)`` takes and returns it: ``(L, B, H)`` each."""
        parts = (self.hs,) if self.cs is None else (self.hs, self.cs)
        return tuple(s.transpose(0, 1).contiguous() for s in parts)

    @torch.no_grad()
    def __call__(self, ids: Tensor) -> Tensor:
        """Read ``ids (B,)``; the logits ``(B, V)`` for the next token."""
        table = self.table
        if table is None:  # the rows of this step only
            table, ids = self._input_side(ids), torch.arange(ids.shape[0], device=ids.device)
        if self.compiled is not None:
            return self.compiled.stack_step(
                self.kind, table, ids, self.hs, self.cs, self.w_ih, self.bias, self.w_hh, self.b_hn, self.w_out,
                self.b_out,
            )  # fmt: skip
        u = table.index_select(0, ids) + self.bias[0]  # (B, G*H)
        for layer, w_hh in enumerate(self.w_hh):
            if layer > 0:
                u = torch.addmm(self.bias[layer], self.hs[:, layer - 1], self.w_ih[layer - 1].t())
            h, c = self.hs[:, layer], self.cs[:, layer] if self.cs is not None else None
            b_hn = self.b_hn[layer] if self.b_hn else None
            h_next, c_next = infer.step(self.kind, u, h @ w_hh.t(), h, c, b_hn)
            h.copy_(h_next)
            if c is not None:
                c.copy_(c_next)
        last = self.hs[:, -1]
        return last @ self.w_out.t() if self.b_out is None else torch.addmm(self.b_out, last, self.w_out.t())
