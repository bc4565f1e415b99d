"""Decoding an encoder–decoder: greedy, sampling and beam search, batched over sentences.

Every decoder here drives an encoder–decoder (:class:`rnnlab.models.decoder.AttentionDecoder`:
the sequence-to-sequence model, the image captioner) through its incremental API (``encode``,
``start``, ``step``, and ``index_select`` on the memory and the state), one batched call of the
network per output position for all inputs (and all their beams) at once; the step is
:class:`rnnlab.models.decoder_step.DecoderStepper`'s (the recurrence in one compiled call) where
the decoder's cells allow it. The inputs are whatever
the model's ``encode(src, lengths)`` reads: padded source ids ``(S, B)`` and their lengths, or a
batch of images (``lengths`` ``None``).

Conventions shared by the three:

- The decoder never emits ``PAD`` or ``BOS``. A hypothesis has at most ``max_length`` tokens;
  one that reaches it is ended with ``EOS`` (the only choice left at the next step), as fairseq
  does, so every score includes the probability of ending.
- A hypothesis's ``log_prob`` is the model's ``sum_t log p(y_t | y_<t, x)`` over its tokens and
  the final ``EOS`` (the full softmax, not the sampling distribution).
- Beam search ranks by ``log_prob / len ** length_penalty`` with ``len`` the tokens plus ``EOS``
  (``length_penalty`` 0: the plain sum, which favours short outputs; 1: the mean per token).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab import checks
from rnnlab.data.symbols import BOS, EOS, PAD
from rnnlab.generate import check_sampling, sampling_probs
from rnnlab.models.decoder import AttentionDecoder, Memory
from rnnlab.models.decoder_step import stepper


@dataclass
class Hypothesis:
    """One output sentence.

    Attributes:
        tokens: target ids, without ``BOS`` and ``EOS``.
        score: what beam search ranks by (``log_prob / len ** length_penalty``); ``log_prob``
            for greedy decoding and sampling.
        log_prob: the model's log-probability of ``tokens`` followed by ``EOS``.
        attention: weights ``(len(tokens), S)`` over the sentence's own source positions, the row
            of each token; ``None`` for a model without attention.
    """

    tokens: list[int]
    score: float
    log_prob: float
    attention: Tensor | None


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run the block with ``model`` in eval mode and without gradients, then put its mode back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _check(model: AttentionDecoder, max_length: int) -> None:
    """Validate the arguments every decoder takes."""
    checks.positive_int("max_length", max_length)
    if model.vocab_size <= EOS:
        checks.fail("model", f"an output vocabulary that holds EOS (id {EOS})", model.vocab_size)


def _lengths(memory: Memory) -> Tensor:
    """The valid positions of each row's memory ``(B,)``, a CPU int64 tensor."""
    return memory.mask.sum(dim=0).to("cpu", torch.int64)


def _log_probs(logits: Tensor, last: bool) -> Tensor:
    """The model's log-probabilities ``(R, V)`` in float64 with ``PAD`` and ``BOS`` (and, at the
    ``last`` step, everything but ``EOS``) set to ``-inf``."""
    logp = torch.log_softmax(logits, dim=-1, dtype=torch.float64)  # (R, V): cast as it is read
    if last:
        allowed = torch.full_like(logp, float("-inf"))
        allowed[:, EOS] = 0.0
        return logp + allowed
    logp[:, PAD] = float("-inf")
    logp[:, BOS] = float("-inf")
    return logp


def _one_per_sentence(
    model: AttentionDecoder, src: Tensor, lengths: Tensor, max_length: int, choose: Callable[[Tensor], Tensor]
) -> list[Hypothesis]:
    """Decode every sentence along one path, ``choose`` picking each row's next token ``(B,)``
    from the log-probabilities ``(B, V)``."""
    _check(model, max_length)
    with evaluating(model):
        memory = model.encode(src, lengths)
        lengths = _lengths(memory)
        state = model.start(memory)
        B, device = memory.mask.shape[1], memory.mask.device
        step = stepper(model, B, max_length + 1)
        tokens = torch.full((B,), BOS, dtype=torch.long, device=device)
        out, weights = [], []
        log_prob = torch.zeros(B, dtype=torch.float64, device=device)
        done = torch.zeros(B, dtype=torch.bool, device=device)
        for t in range(max_length + 1):
            logits, state, w = step(tokens, state, memory)
            logp = _log_probs(logits, last=t == max_length)  # (B, V)
            tokens = choose(logp).masked_fill(done, PAD)  # (B,)
            log_prob += logp.gather(1, tokens.unsqueeze(1)).squeeze(1).masked_fill(done, 0.0)
            out.append(tokens)
            weights.append(w)
            done = done | (tokens == EOS)
            if bool(done.all()):
                break
    ids = torch.stack(out, dim=1).tolist()  # (B, steps)
    attention = None if weights[0] is None else torch.stack(weights, dim=1)  # (B, steps, S)
    result = []
    for b, row in enumerate(ids):
        n = row.index(EOS)
        a = None if attention is None else attention[b, :n, : int(lengths[b])]
        result.append(Hypothesis(row[:n], float(log_prob[b]), float(log_prob[b]), a))
    return result


def greedy(model: AttentionDecoder, src: Tensor, lengths: Tensor | None, max_length: int = 100) -> list[Hypothesis]:
    """The most likely token at every step.

    Args:
        model: the encoder–decoder (put in eval mode while decoding).
        src: the model's inputs: source ids ``(S, B)`` padded with 0, or images.
        lengths: source lengths ``(B,)`` (``None`` for images).
        max_length: most tokens per output, ``EOS`` not counted.

    Returns:
        One :class:`Hypothesis` per sentence, in the batch's order.
    """
    return _one_per_sentence(model, src, lengths, max_length, lambda logp: logp.argmax(dim=-1))


def sample(
    model: AttentionDecoder,
    src: Tensor,
    lengths: Tensor,
    max_length: int = 100,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[Hypothesis]:
    """Draw each token from the model's distribution, reshaped as in :func:`rnnlab.generate.pick`.

    Args:
        model, src, lengths, max_length: as :func:`greedy`.
        temperature: divides the logits; 0 is greedy.
        top_k: draw among the ``k`` most likely tokens only (0 = all).
        top_p: draw among the most likely tokens whose probability reaches ``p`` (1 = all).
        generator: the random stream (seed it for reproducible samples).

    Returns:
        One :class:`Hypothesis` per sentence; its ``log_prob`` is the model's, not the reshaped one.
    """
    check_sampling(temperature, top_k, top_p, max_length)
    if temperature == 0:
        return greedy(model, src, lengths, max_length)

    def draw(logp: Tensor) -> Tensor:
        probs = sampling_probs(logp, temperature, top_k, top_p)  # (B, V)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _one_per_sentence(model, src, lengths, max_length, draw)


def beam_search(
    model: AttentionDecoder,
    src: Tensor,
    lengths: Tensor,
    beam: int = 5,
    max_length: int = 100,
    length_penalty: float = 1.0,
    nbest: int = 1,
) -> list[list[Hypothesis]]:
    """Beam search, all sentences and all their beams in one batch of ``B * beam`` rows per step.

    At every step each sentence's ``beam * V`` extensions are ranked by log-probability; those
    among the best ``beam`` that end with ``EOS`` are finished and set aside (their score
    normalised by length), and the best ``beam`` that do not end carry on (Sutskever et al. 2014;
    the bookkeeping of fairseq, Ott et al. 2019). A sentence is done when its ``nbest``-th
    finished hypothesis scores at least what any live beam could still reach; the search stops
    when all are, or after ``max_length`` tokens.

    Args:
        model, src, lengths, max_length: as :func:`greedy`.
        beam: hypotheses kept per sentence and step.
        length_penalty: ``alpha`` in ``score = log_prob / len ** alpha`` (0 = none).
        nbest: hypotheses returned per sentence, at most ``beam``.

    Returns:
        Per sentence, its best hypotheses, best first.
    """
    _check(model, max_length)
    K, N, L = checks.positive_int("beam", beam), checks.positive_int("nbest", nbest), max_length
    alpha = checks.non_negative("length_penalty", length_penalty)
    if N > K:
        checks.fail("nbest", f"at most beam ({K})", N)
    with evaluating(model):
        memory = model.encode(src, lengths)
        lengths = _lengths(memory)
        S, B = memory.mask.shape
        device = memory.mask.device
        memory = memory.index_select(torch.arange(B).repeat_interleave(K))  # B * K rows
        state = model.start(memory)
        step = stepper(model, B * K, L + 1)
        base = (torch.arange(B, device=device) * K).unsqueeze(1)  # (B, 1): each sentence's first row
        scores = torch.full((B, K), float("-inf"), dtype=torch.float64, device=device)
        scores[:, 0] = 0.0  # one live beam to start with: the others would repeat it
        tokens = torch.full((B * K,), BOS, dtype=torch.long, device=device)
        history = torch.full((B * K, L), PAD, dtype=torch.long, device=device)
        dtype = memory.outputs.dtype
        seen = torch.zeros(B * K, L, S, dtype=dtype, device=device) if model.attention is not None else None
        pool = _Pool(B, N, L, S, None if seen is None else dtype, device)
        for t in range(L + 1):
            logits, state, w = step(tokens, state, memory)
            logp = _log_probs(logits, last=t == L)  # (B * K, V)
            V = logp.shape[1]
            candidates = logp.add_(scores.view(-1, 1)).view(B, K * V)  # logp is not read again
            values, index = candidates.topk(min(2 * K, K * V), dim=1)  # (B, M)
            origin, token = index // V, index % V  # the beam each extends, and the token
            ended = token == EOS
            # finished: EOS among the best K
            final = ended[:, :K] & torch.isfinite(values[:, :K])
            rows = (base + origin[:, :K]).view(-1)  # (B * K,)
            pool.add(
                torch.where(final, values[:, :K] / (t + 1) ** alpha, float("-inf")),
                values[:, :K],
                t,
                history.index_select(0, rows).view(B, K, L),
                None if seen is None else seen.index_select(0, rows).view(B, K, L, S),
            )
            if t == L:
                break
            # live: the best K that do not end, in rank order
            order = torch.sort(ended.to(torch.int8), dim=1, stable=True).indices[:, :K]  # (B, K)
            scores = values.gather(1, order)
            rows = (base + origin.gather(1, order)).view(-1)  # (B * K,)
            tokens = token.gather(1, order).view(-1)
            state = state.index_select(rows)
            history = history.index_select(0, rows)
            history[:, t] = tokens
            if seen is not None:
                seen = seen.index_select(0, rows)
                seen[:, t] = w.index_select(0, rows)
            best_live = scores.max(dim=1).values  # (B,); a live beam's log_prob only falls, its length grows
            reachable = best_live / (L + 1) ** alpha if alpha > 0 else best_live
            if bool((pool.score[:, N - 1] >= reachable).all()):
                break
    return pool.hypotheses(lengths)


def search(
    model: AttentionDecoder,
    src: Tensor,
    lengths: Tensor | None,
    beam: int = 1,
    nbest: int = 1,
    max_length: int = 100,
    length_penalty: float = 1.0,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best outputs of each input by beam search, or one output: greedy with
    ``beam=1`` and ``temperature=0``, sampled with ``temperature > 0`` (:func:`sample`).

    Raises:
        ValueError: the search ran out of memory (one line: use a smaller beam or output length).
    """
    try:
        if temperature > 0:
            found = sample(model, src, lengths, max_length, temperature, top_k, top_p, generator=generator)
        elif beam == 1 and nbest == 1:
            found = greedy(model, src, lengths, max_length)
        else:
            return beam_search(
                model, src, lengths, beam=beam, max_length=max_length, length_penalty=length_penalty, nbest=nbest
            )
    except (RuntimeError, MemoryError) as e:
        asked = checks.allocation_failure(e)
        if asked is None:
            raise
        raise ValueError(f"decoding ran out of memory ({asked}); use a smaller beam or output length") from e
    return [[h] for h in found]


class _Pool:
    """The best ``N`` finished hypotheses of each of ``B`` sentences, kept in tensors."""

    def __init__(self, B: int, N: int, L: int, S: int, attention: torch.dtype | None, device: torch.device) -> None:
        self.N = N
        self.score = torch.full((B, N), float("-inf"), dtype=torch.float64, device=device)
        self.log_prob = torch.zeros(B, N, dtype=torch.float64, device=device)
        self.length = torch.zeros(B, N, dtype=torch.long, device=device)
        self.tokens = torch.full((B, N, L), PAD, dtype=torch.long, device=device)
        self.attention = None if attention is None else torch.zeros(B, N, L, S, dtype=attention, device=device)

    def add(self, score: Tensor, log_prob: Tensor, length: int, tokens: Tensor, attention: Tensor | None) -> None:
        """Merge ``K`` new candidates per sentence: ``score``/``log_prob`` ``(B, K)`` (``-inf`` score
        for none), all with ``length`` tokens ``(B, K, L)`` and weights ``(B, K, L, S)``."""
        merged = torch.cat([self.score, score], dim=1)  # (B, N + K)
        self.score, pick = merged.topk(self.N, dim=1)  # (B, N)
        self.log_prob = torch.cat([self.log_prob, log_prob], dim=1).gather(1, pick)
        self.length = torch.cat([self.length, torch.full_like(score, length, dtype=torch.long)], dim=1).gather(1, pick)
        self.tokens = _gather_rows(torch.cat([self.tokens, tokens], dim=1), pick)
        if self.attention is not None:
            self.attention = _gather_rows(torch.cat([self.attention, attention], dim=1), pick)

    def hypotheses(self, lengths: Tensor) -> list[list[Hypothesis]]:
        found = torch.isfinite(self.score).tolist()
        scores, log_probs, sizes = self.score.tolist(), self.log_prob.tolist(), self.length.tolist()
        tokens = self.tokens.tolist()
        result = []
        for b, row in enumerate(found):
            result.append(
                [
                    Hypothesis(
                        tokens[b][j][: sizes[b][j]],
                        scores[b][j],
                        log_probs[b][j],
                        None if self.attention is None else self.attention[b, j, : sizes[b][j], : int(lengths[b])],
                    )
                    for j, ok in enumerate(row)
                    if ok
                ]
            )
        return result


def _gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, index[b, j]]`` for ``x (B, M, ...)`` and ``index (B, N)``: ``(B, N, ...)``."""
    return x[torch.arange(x.shape[0], device=x.device).unsqueeze(1), index]
