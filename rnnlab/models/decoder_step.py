"""One step of an encoder–decoder's decoder with its recurrence in one compiled call: the path of search.

:meth:`rnnlab.models.decoder.AttentionDecoder.step` runs the decoder's recurrent layer as a
sequence of one step: the layer's checks, its path choice and the fused kernel (or the forward-only
loop) for a single step, every layer's input side a GEMM of its own. :class:`DecoderStepper` reads
the weights once per search instead, and then makes one compiled call per step (``stack_step`` in
``csrc/infer.cpp``, the single-step path of :class:`rnnlab.stepping.Stepper`) for all the layers:

- the first layer's word input ``embedding(y) @ W_ih[:, :E]^T`` is looked up in a table made once
  for the whole output vocabulary when the search will look up at least as many rows as it holds
  (else it is computed for the step's tokens); with input feeding, ``h~ @ W_ih[:, E:]^T`` is added;
- the layers above read the one below's new ``h`` where it lies, the state is updated in place.

The attention, the attentional layer and the readout are the model's own modules, as in
:meth:`AttentionDecoder.step`, so the logits are the model's to float rounding. It applies to
decoders of standard cells (:func:`rnnlab.bptt.infer.kind_of`) in float32 on the CPU with the
compiled loops built, in evaluation mode; elsewhere the search calls ``model.step``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnlab.bptt import infer, native
from rnnlab.models.decoder import AttentionDecoder, DecoderState, Memory
from rnnlab.stepping import TABLE_LIMIT

enabled = True  # False: every search steps through ``model.step`` (for comparisons)

Step = Callable[[Tensor, DecoderState, Memory], tuple[Tensor, DecoderState, Tensor | None]]


class DecoderStepper:
    """``model.step`` of an :class:`AttentionDecoder` (see the module docstring).

    Args:
        model: the encoder–decoder, in evaluation mode, whose decoder :meth:`fits`.
        lookups: how many token rows the search may look up in all (rows times steps): the word
            input is tabled for the whole vocabulary only when that is no more.

    The weights are read when the stepper is made: make a new one after changing them.
    """

    @staticmethod
    def fits(model: AttentionDecoder) -> bool:
        """Whether the decoder can be stepped here: standard cells of one kind, float32 on the
        CPU with the compiled loops at hand, evaluation mode, no autocast."""
        rnn = model.decoder
        weight = rnn.layers[0].weight_hh
        if not enabled or model.training or rnn.bidirectional or torch.is_autocast_enabled(weight.device.type):
            return False
        kinds = {infer.kind_of(c) for c in rnn.layers}
        return len(kinds) == 1 and None not in kinds and native.loops(weight) is not None

    @torch.no_grad()
    def __init__(self, model: AttentionDecoder, lookups: int) -> None:
        if not self.fits(model):
            raise ValueError("DecoderStepper: the decoder needs standard cells, float32 on the CPU, evaluation mode")
        cells = list(model.decoder.layers)
        self.model, self.kind = model, infer.kind_of(cells[0])
        self.compiled = native.loops(cells[0].weight_hh)
        E = model.target_embedding.embedding_dim
        first = cells[0].weight_ih.detach()
        self.w_word = first[:, :E]  # (G*H, E)
        self.w_feed = first[:, E:].t() if model.input_feeding else None  # (H, G*H)
        self.words = model.target_embedding.weight.detach()  # (V, E)
        V, GH = self.words.shape[0], first.shape[0]
        self.table = None
        if V <= lookups and V * GH <= TABLE_LIMIT:
            self.table = (self.words @ self.w_word.t()).contiguous()  # (V, G*H)
        self.w_ih, self.w_hh, self.bias, self.b_hn = infer.stack_weights(cells)
        self.no_readout = first.new_zeros(0, model.decoder.hidden_size)  # the logits come after the attention

    def _word_side(self, tokens: Tensor) -> Tensor:
        """The first layer's input side of the step's tokens ``(B, G*H)``, its biases apart."""
        if self.table is not None:
            return self.table.index_select(0, tokens)
        return self.words.index_select(0, tokens) @ self.w_word.t()

    @torch.no_grad()
    def __call__(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """As :meth:`AttentionDecoder.step`: logits ``(B, V)``, the next state, weights ``(B, S)`` or ``None``."""
        model = self.model
        u = self._word_side(tokens)
        if self.w_feed is not None:
            u = torch.addmm(u, state.feed, self.w_feed)
        own = [s.transpose(0, 1).clone(memory_format=torch.contiguous_format) for s in state.rnn]  # (B, L, H)
        hs, cs = own[0], own[1] if len(own) > 1 else None
        rows = torch.arange(u.shape[0], device=u.device)
        self.compiled.stack_step(
            self.kind, u, rows, hs, cs, self.w_ih, self.bias, self.w_hh, self.b_hn, self.no_readout, None
        )  # fmt: skip
        attended, weights = model._attend(hs[:, -1].unsqueeze(0), memory)  # (1, B, H), (1, B, S)
        logits = model.readout(model.project(model.drop(attended)))[0]  # (B, V)
        feed = attended[0] if model.input_feeding else None
        rnn = tuple(s.transpose(0, 1) for s in own)  # (L, B, H) each
        return logits, DecoderState(rnn, feed), None if weights is None else weights[0]


def stepper(model: AttentionDecoder, rows: int, steps: int) -> Step:
    """The step function a search of ``rows`` rows and at most ``steps`` steps drives: a
    :class:`DecoderStepper` where the decoder fits, else ``model.step``."""
    return DecoderStepper(model, rows * steps) if DecoderStepper.fits(model) else model.step
