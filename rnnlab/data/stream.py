"""Truncated-BPTT batches over parallel streams (as char-rnn and Zaremba et al. 2014 do).

The token sequence is cut into ``batch_size`` contiguous streams; chunk ``k`` holds steps
``k*T .. k*T+T-1`` of every stream, so the hidden state at the end of one chunk is the right
start for the next. The position is a plain integer, saved with checkpoints for exact resume.
"""

from __future__ import annotations

from torch import Tensor

from rnnlab.data.corpora import SPLIT_CORPORA, DataError, load_corpus


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """Contiguous split: the last ``val_fraction`` of the text is for validation."""
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]


def load_splits(spec: str, val_fraction: float, test_fraction: float = 0.0) -> dict[str, str]:
    """``{"train", "valid"}`` texts, and ``"test"`` for corpora that have one (``ptb``) or where
    ``test_fraction`` holds one out: the corpus's own splits, or else the last ``test_fraction`` of
    the text for testing and the ``val_fraction`` before it for validation (contiguous, so no
    sentence or function is cut across two splits but the two at a boundary)."""
    if spec in SPLIT_CORPORA:
        return SPLIT_CORPORA[spec]()
    text = load_corpus(spec)
    test_cut = len(text) - int(round(len(text) * test_fraction))
    val_cut = test_cut - int(round(len(text) * val_fraction))  # both fractions of the whole text
    splits = {"train": text[:val_cut], "valid": text[val_cut:test_cut]}
    return {**splits, "test": text[test_cut:]} if test_fraction else splits


class StreamBatches:
    """Chunks ``(x, y)`` of shape ``(T, B)`` with ``y`` the next token of ``x``.

    Args:
        ids: the token ids ``(N,)``.
        batch_size: parallel streams ``B``.
        seq_len: steps per chunk ``T`` (the truncation length of BPTT).
        name: what the ids are, for error messages.
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, name: str = "text") -> None:
        per_stream = (len(ids) - 1) // batch_size
        self.chunks = per_stream // seq_len
        if self.chunks < 1:
            need = batch_size * seq_len + 1
            raise DataError(
                f"data: the {name} has {len(ids)} tokens; batch size {batch_size} x sequence length "
                f"{seq_len} needs at least {need}"
            )
        n = self.chunks * seq_len
        self.seq_len = seq_len
        self.inputs = ids[: batch_size * per_stream].view(batch_size, per_stream)[:, :n].t().contiguous()
        self.targets = ids[1 : batch_size * per_stream + 1].view(batch_size, per_stream)[:, :n].t().contiguous()
        self.position = 0  # chunks served so far; chunk index is position % chunks

    def __len__(self) -> int:
        return self.chunks

    def next(self) -> tuple[Tensor, Tensor, bool]:
        """The next chunk ``(x, y)`` and whether it starts a new pass (reset the state)."""
        k = self.position % self.chunks
        self.position += 1
        t = k * self.seq_len
        return self.inputs[t : t + self.seq_len], self.targets[t : t + self.seq_len], k == 0

    def all(self):
        """Every chunk once, in order (for evaluation)."""
        for k in range(self.chunks):
            t = k * self.seq_len
            yield self.inputs[t : t + self.seq_len], self.targets[t : t + self.seq_len]
