"""Slots and intent at once (Liu & Lane 2016, "Attention-Based Recurrent Neural Network Models for
Joint Intent Detection and Slot Filling"), ``model = "joint"``.

The sentence net is :class:`rnnlab.models.tagger.Tagger`'s (word embeddings, with character
features unless ``char_embedding_size`` is 0, and a recurrent net, bidirectional by default); a
slot score per word from each output, with a softmax per word (Liu & Lane's, with ``crf = False``)
or a CRF over them. The intent reads one
vector per sentence: ``last``, the forward direction's output at the sentence's own last word
joined to the backward direction's at its first (both final states); or ``attention``, a weighted
mean of the outputs with ``a_j`` proportional to ``exp(v^T tanh(W h_j + b))`` over the sentence's
words (the additive score of :mod:`rnnlab.models.attention` with a constant query). A linear layer
maps it to ``num_intents`` logits. The loss is ``slot_weight * slot loss + intent_weight *
intent cross-entropy``.

The intent head is built after everything else, so that under one seed the slot part starts
exactly as the same model built with ``num_intents = 0`` (a slot-only model).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.models.attention import AdditiveAttention
from rnnlab.models.classifier import pool
from rnnlab.models.tagger import Tagger, TaggerConfig


class JointTagger(Tagger):
    """Slot scores per word and, with ``num_intents > 0``, intent logits per sentence.

    The batch is :class:`Tagger`'s plus, for :meth:`loss` with an intent head, ``intents`` ``(B,)``
    int64.
    """

    reads = frozenset({"chars", "bidirectional", "num_intents", "pooling", "intent_weight", "slot_weight"})

    @classmethod
    def check(cls, config: TaggerConfig) -> None:
        if config.num_intents and config.slot_weight + config.intent_weight == 0:
            checks.fail("slot_weight, intent_weight", "at least one above 0", (0.0, 0.0))
        if not config.num_intents and config.slot_weight == 0:
            checks.fail("slot_weight", "above 0 without intents (num_intents = 0)", config.slot_weight)

    @checks.refuse_allocation_failure
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__(config)
        self.has_intent = config.num_intents > 0
        if not self.has_intent:
            return
        width = self.rnn.output_size
        if config.pooling == "attention":
            self.attention = AdditiveAttention(1, width, config.hidden_size)
        self.intent = nn.Linear(width, config.num_intents)

    @staticmethod
    def parameter_bound(config: TaggerConfig) -> int:
        count = Tagger.parameter_bound(config)
        if not config.num_intents:
            return count
        width = (2 if config.bidirectional else 1) * config.hidden_size
        if config.pooling == "attention":
            count += AdditiveAttention.parameter_count(1, width, config.hidden_size)
        return count + config.num_intents * (width + 1)

    def sentence_vectors(self, out: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """One vector ``(B, D)`` per sentence from the sentence net's outputs ``(T, B, D)``."""
        if self.config.pooling == "attention":
            query = out.new_ones(1, out.shape[1], 1)  # (1, B, 1): W_q 1 + b is the score's bias
            context, _ = self.attention(query, *self.attention.prepare(out), batch["mask"])  # (1, B, D)
            return context[0]
        return pool(out, batch["lengths"], "last", self.rnn.num_directions)

    def intent_head(self, out: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Intent logits ``(B, num_intents)`` from the sentence net's outputs ``(T, B, D)``."""
        if not self.has_intent:
            checks.fail("num_intents", "intents for an intent (a model built with num_intents > 0)", 0)
        return self.intent(self.drop(self.sentence_vectors(out, batch)))

    def intent_logits(self, batch: dict[str, Tensor]) -> Tensor:
        """Intent logits ``(B, num_intents)``."""
        return self.intent_head(self.features(batch), batch)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """``slot_weight`` times the slot loss (:meth:`slot_loss`), plus with an intent head
        ``intent_weight`` times the intent cross-entropy averaged over the batch."""
        out = self.features(batch)  # (T, B, D)
        loss = self.config.slot_weight * self.slot_loss(self.emit(self.drop(out)), batch)
        if self.has_intent:
            intents = nn.functional.cross_entropy(self.intent_head(out, batch), batch["intents"])
            loss = loss + self.config.intent_weight * intents
        return loss

    @torch.no_grad()
    def predict_intents(self, batch: dict[str, Tensor]) -> tuple[list[int], list[float]]:
        """The most probable intent of each sentence and its probability."""
        return _most_probable(self.intent_logits(batch))

    @torch.no_grad()
    def predict_all(self, batch: dict[str, Tensor]) -> tuple[list[list[int]], list[int], list[float]]:
        """:meth:`predict` and :meth:`predict_intents` from one pass of the sentence net."""
        out = self.features(batch)
        return (self.decode(self.emit(self.drop(out)), batch), *_most_probable(self.intent_head(out, batch)))


def _most_probable(logits: Tensor) -> tuple[list[int], list[float]]:
    best, index = torch.softmax(logits, dim=-1).max(dim=-1)  # (B,) each
    return index.tolist(), best.tolist()
