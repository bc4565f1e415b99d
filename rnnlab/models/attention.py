"""Attention over encoder states: the decoder's query picks a weighted mean of the source positions.

For a decoder state ``q_t`` and encoder states ``k_1 ... k_S`` (keys and values are both the
encoder's outputs ``h_s``)::

    e_ts  = score(q_t, k_s)
    a_ts  = exp(e_ts) / sum_{s' valid} exp(e_ts')      0 on padded positions
    c_t   = sum_s a_ts h_s

The scores, one class each in :data:`ATTENTIONS`:

- ``additive`` (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to
  Align and Translate"): ``v^T tanh(W_q q + W_k k)``, a one-hidden-layer net of size ``hidden_size``.
- ``dot`` (Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural Machine
  Translation", §3.1): ``q^T k``; no parameters.
- ``general`` (the same paper): ``q^T W k``.

Each score turns the memory into keys once per source (:meth:`Attention.prepare`): ``W_k k`` for
``additive``, ``W k`` for ``general``, so a decoder that runs step by step does not recompute
them. ``dot`` needs the query and the memory to have one width. Projecting the memory to the
query's width would make it ``general`` exactly (``q^T (W k)``), so it refuses instead and says
to use ``general``.

All decoder steps are scored at once: queries ``(T, B, H)``, memory ``(S, B, E)``. Keys and values
are kept batch-major, ``(B, S, ·)``, because every score and the context are batched matrix
products over ``B``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab import checks


class Attention(nn.Module):
    """Base class: the masked softmax and the context; subclasses give the keys and the scores.

    Args:
        query_size: width ``H`` of the decoder's states.
        memory_size: width ``E`` of the encoder's outputs.
        hidden_size: width of the additive score's hidden layer (ignored by the others).
    """

    def __init__(self, query_size: int, memory_size: int, hidden_size: int) -> None:
        super().__init__()
        self.query_size = checks.positive_int("query_size", query_size)
        self.memory_size = checks.positive_int("memory_size", memory_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)

    def prepare(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of a source, computed once.

        Args:
            memory: encoder outputs ``(S, B, E)``.

        Returns:
            ``(keys, values)``: keys ``(B, S, A)`` (``A`` depends on the score), values ``(B, S, E)``.
        """
        values = memory.transpose(0, 1).contiguous()  # (B, S, E)
        return self.keys(values), values

    @staticmethod
    def parameter_count(query_size: int, memory_size: int, hidden_size: int) -> int:
        """The number of parameters of this score for these sizes."""
        raise NotImplementedError

    def keys(self, values: Tensor) -> Tensor:
        """Keys ``(B, S, A)`` from the values ``(B, S, E)``."""
        raise NotImplementedError

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores ``(B, T, S)`` of queries ``(B, T, H)`` against keys ``(B, S, A)``."""
        raise NotImplementedError

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attend from every query to the valid source positions.

        Args:
            query: decoder states ``(T, B, H)``.
            keys: from :meth:`prepare`, ``(B, S, A)``.
            values: from :meth:`prepare`, ``(B, S, E)``.
            mask: ``(S, B)``, true on valid source positions (each source has at least one).

        Returns:
            ``(context, weights)``: context ``(T, B, E)``, weights ``(T, B, S)`` that sum to one over
            the valid positions and are exactly 0 on padding.
        """
        scores = self.score(query.transpose(0, 1), keys)  # (B, T, S)
        scores = scores.masked_fill(~mask.t().unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T, S); exp(-inf) = 0 exactly
        context = torch.bmm(weights, values)  # (B, T, E)
        return context.transpose(0, 1), weights.transpose(0, 1)


class AdditiveAttention(Attention):
    """``v^T tanh(W_q q + W_k k)`` (Bahdanau et al. 2015); ``W_k k`` is the precomputed key."""

    def __init__(self, query_size: int, memory_size: int, hidden_size: int) -> None:
        super().__init__(query_size, memory_size, hidden_size)
        self.query_proj = nn.Linear(query_size, hidden_size)  # W_q and the score's one bias
        self.key_proj = nn.Linear(memory_size, hidden_size, bias=False)  # W_k
        self.v = nn.Linear(hidden_size, 1, bias=False)

    @staticmethod
    def parameter_count(query_size: int, memory_size: int, hidden_size: int) -> int:
        return hidden_size * (query_size + memory_size + 2)

    def keys(self, values: Tensor) -> Tensor:
        return self.key_proj(values)  # (B, S, A)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        q = self.query_proj(query)  # (B, T, A)
        hidden = torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))  # (B, T, S, A)
        return self.v(hidden).squeeze(-1)  # (B, T, S)


class DotAttention(Attention):
    """``q^T k`` (Luong et al. 2015); needs ``query_size == memory_size``."""

    def __init__(self, query_size: int, memory_size: int, hidden_size: int) -> None:
        super().__init__(query_size, memory_size, hidden_size)
        if query_size != memory_size:
            checks.fail(
                "attention",
                f"'general' or 'additive': 'dot' needs the encoder's width ({memory_size}) equal to the "
                f"decoder's ({query_size}), e.g. a unidirectional encoder",
                "dot",
            )

    @staticmethod
    def parameter_count(query_size: int, memory_size: int, hidden_size: int) -> int:
        return 0

    def keys(self, values: Tensor) -> Tensor:
        return values  # (B, S, E)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)


class GeneralAttention(Attention):
    """``q^T W k`` (Luong et al. 2015); ``W k`` is the precomputed key."""

    def __init__(self, query_size: int, memory_size: int, hidden_size: int) -> None:
        super().__init__(query_size, memory_size, hidden_size)
        self.key_proj = nn.Linear(memory_size, query_size, bias=False)  # W

    @staticmethod
    def parameter_count(query_size: int, memory_size: int, hidden_size: int) -> int:
        return query_size * memory_size

    def keys(self, values: Tensor) -> Tensor:
        return self.key_proj(values)  # (B, S, H)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)


ATTENTIONS: dict[str, type[Attention]] = {
    "additive": AdditiveAttention,
    "dot": DotAttention,
    "general": GeneralAttention,
}


def make_attention(name: str, query_size: int, memory_size: int, hidden_size: int) -> Attention:
    """Build the registered attention ``name`` (a key of :data:`ATTENTIONS`).

    Raises:
        ValueError: for an unknown name, or ``dot`` with widths that differ.
    """
    checks.choice("attention", name, tuple(ATTENTIONS))
    return ATTENTIONS[name](query_size, memory_size, hidden_size)


def attention_parameters(name: str, query_size: int, memory_size: int, hidden_size: int) -> int:
    """The parameter count of attention ``name`` (for a config's ``min_parameters``); 0 for none."""
    kind = ATTENTIONS.get(name)
    return kind.parameter_count(query_size, memory_size, hidden_size) if kind is not None else 0
