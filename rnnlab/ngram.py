"""A character n-gram language model with interpolated modified Kneser-Ney smoothing: the count-based
baseline that character RNNs are compared with (test loss in nats per character on the same split).

The smoothing is Chen & Goodman's (1998, "An empirical study of smoothing techniques for language
modeling", section 3 and eq. 26) interpolated modified Kneser-Ney, which extends Kneser & Ney (1995)
with three discounts per order. For a context ``h`` of ``k - 1`` characters and a character ``w``::

    p_k(w | h) = (c_k(hw) - D_k(c_k(hw))) / c_k(h.)  +  gamma_k(h) p_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h.) + D_k2 N2(h.) + D_k3 N3+(h.)) / c_k(h.)

where ``h'`` is ``h`` without its first character, ``c_k(h.) = sum_w c_k(hw)``, ``N_r(h.)`` counts
the characters that follow ``h`` exactly ``r`` times (``N3+``: three times or more) and
``D_k(0) = 0``. At the highest order ``c_k`` is the raw count; below it, the continuation count
``N1+(. hw)``: the number of distinct characters seen before ``hw`` (the start of the training
text counts as one such character, so every k-gram of the training text has a positive count).
A context never followed by a character in training (``c_k(h.) = 0``) passes ``p_{k-1}`` through.
The discounts of each order come from the count-of-counts ``n_1 .. n_4`` of the counts used at that
order: ``Y = n1 / (n1 + 2 n2)``, ``D_r = r - (r + 1) Y n_{r+1} / n_r``.

Below order 1 is the uniform distribution over the vocabulary: every character of the training
text and of the evaluated text (and its history). A character never seen in training therefore gets
``prod_k gamma_k / |V|``: small but positive, and the distribution still sums to 1 over the vocabulary.

Counts are stored as numpy arrays, one sorted table per order: a k-gram is the integer key
``id(its first k - 1 characters) * B + code(last character)``, where ``id`` is the k-1-gram's index
in the table below and ``B`` the number of training characters. The keys are exact (no hashing),
grams with the same context are adjacent in the sorted table (so context totals are range sums),
and a text is looked up with ``searchsorted``, one order at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["NgramModel", "best_order", "ngram_baseline", "estimate_discounts"]


def estimate_discounts(n1: int, n2: int, n3: int, n4: int) -> tuple[float, float, float]:
    """The discounts ``(D1, D2, D3+)`` of one order from its count-of-counts (Chen & Goodman 1998, eq. 26).

    On tiny texts some ``n_r`` are 0 and eq. 26 is undefined (or gives a discount outside ``(0, r]``);
    then the one discount of interpolated Kneser-Ney, ``D = n1 / (n1 + 2 n2)`` (Chen & Goodman 1998,
    after Ney, Essen & Kneser 1994), serves for all three, or 0.5 when no count is 1, so that some
    mass always reaches the lower orders (and the uniform floor).

    Args:
        n1, n2, n3, n4: how many grams of the order have a count of exactly 1, 2, 3 and 4.

    Returns:
        The discounts of counts 1, 2 and 3 or more.
    """
    if min(n1, n2, n3, n4) > 0:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < d_r <= r for r, d_r in zip((1, 2, 3), d)):
            return d
    single = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5
    return (single, single, single)


class NgramModel:
    """A character n-gram model with interpolated modified Kneser-Ney smoothing.

    Fitted at one order ``n``, it also evaluates every lower order from the same tables (the model of
    order ``m`` uses raw counts at order ``m`` and continuation counts below, as if fitted at ``m``).

    A text is evaluated on its own ("starts fresh"): its first characters are predicted from the
    shorter contexts available, ending in the continuation (lower-order) distributions, unless a
    ``history`` (e.g. the end of the training text it continues) is given as context.
    """

    def __init__(self) -> None:
        self.order = 0
        self._alphabet = np.zeros(0, dtype=np.int64)  # sorted code points of the training characters
        self._keys: list[np.ndarray] = []  # per order k (index k - 1): sorted k-gram keys
        self._raw: list[np.ndarray] = []  # raw counts, aligned with _keys
        self._cont: list[np.ndarray | None] = []  # continuation counts (None at the fitted order)
        self._disc: list[dict[str, tuple[float, float, float]]] = []  # discounts per order and count kind

    def fit(self, text: str, order: int) -> NgramModel:
        """Count every k-gram of ``text`` for k = 1 .. ``order``.

        Args:
            text: the training text (any characters).
            order: the highest n-gram order (the context is ``order - 1`` characters).

        Returns:
            The model itself.

        Raises:
            ValueError: ``order`` is below 1 or ``text`` is empty.
        """
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"n-gram order must be an integer >= 1, got {order!r}")
        if not text:
            raise ValueError("cannot fit an n-gram model on an empty training text")
        points = _code_points(text)
        self._alphabet, codes = np.unique(points, return_inverse=True)
        codes = codes.astype(np.int64)
        base = len(self._alphabet)
        length = len(codes)
        self.order = order
        self._keys, self._raw, self._cont, self._disc = [], [], [], []
        prev_ids = np.zeros(length, dtype=np.int64)  # order 0: the empty gram, id 0, "ends" everywhere
        for k in range(1, order + 1):
            ctx = prev_ids if k == 1 else np.concatenate(([-1], prev_ids[:-1]))
            positions = np.flatnonzero(ctx >= 0)  # where a whole k-gram ends (k - 1 <= i)
            keys, inverse = np.unique(ctx[positions] * base + codes[positions], return_inverse=True)
            ids = np.full(length, -1, dtype=np.int64)
            ids[positions] = inverse
            self._keys.append(keys)
            self._raw.append(np.bincount(inverse, minlength=len(keys)).astype(np.int32))
            if k >= 2:
                # Continuation counts of order k - 1: each distinct k-gram adds one to its suffix.
                self._cont.append(self._continuation(prev_ids, positions, inverse, len(keys), k))
            prev_ids = ids
        self._cont.append(None)
        self._disc = [
            {kind: _discounts_of(counts) for kind, counts in (("raw", raw), ("cont", cont)) if counts is not None}
            for raw, cont in zip(self._raw, self._cont)
        ]
        return self

    def _continuation(
        self, suffix_ids: np.ndarray, positions: np.ndarray, inverse: np.ndarray, n_grams: int, k: int
    ) -> np.ndarray:
        """``N1+(. g)`` for every (k-1)-gram ``g``: its distinct left neighbours, the text start being one."""
        where = np.empty(n_grams, dtype=np.int64)
        where[inverse] = positions  # one position of each distinct k-gram (any will do: same suffix)
        cont = np.bincount(suffix_ids[where], minlength=len(self._keys[k - 2]))
        if k - 2 < len(suffix_ids):  # the first (k-1)-gram of the text follows the text start
            cont[suffix_ids[k - 2]] += 1
        return cont.astype(np.int32)

    def losses(self, text: str, orders: Iterable[int] | None = None, history: str = "") -> dict[int, float]:
        """Mean cross-entropy of ``text`` at several orders, in nats per character.

        Args:
            text: the evaluated text; every character is predicted and counted.
            orders: orders from 1 to the fitted order (default: the fitted order only).
            history: characters before ``text`` used as context only (default: none, the text starts fresh).

        Returns:
            ``{order: loss}``.

        Raises:
            ValueError: the model is not fitted, ``text`` is empty or an order is out of range.
        """
        if not self.order:
            raise ValueError("the n-gram model is not fitted: call fit(text, order) first")
        if not text:
            raise ValueError("cannot evaluate an empty text")
        wanted = sorted(set(orders)) if orders is not None else [self.order]
        bad = [m for m in wanted if not 1 <= m <= self.order]
        if bad or not wanted:
            raise ValueError(f"orders must be between 1 and the fitted order {self.order}, got {bad or 'none'}")
        full = history + text
        codes = self._encode(full)
        probs = self._probs(codes, self._vocab_size(full), wanted)
        return {m: float(-np.mean(np.log(p[len(history) :]))) for m, p in probs.items()}

    def loss(self, text: str, order: int | None = None, history: str = "") -> float:
        """Mean cross-entropy of ``text`` in nats per character (see :meth:`losses`).

        Args:
            text: the evaluated text.
            order: the order to evaluate at (default: the fitted order).
            history: context-only characters before ``text``.

        Returns:
            The loss in nats per character.
        """
        m = self.order if order is None else order
        return self.losses(text, [m], history)[m]

    def distribution(self, context: str, order: int | None = None, vocabulary: str = "") -> dict[str, float]:
        """The probability of each vocabulary character after ``context``.

        Args:
            context: the characters before the predicted one (only the last ``order - 1`` matter).
            order: the model order (default: the fitted order).
            vocabulary: extra characters beyond those of the training text and the context.

        Returns:
            ``{character: probability}`` over the whole vocabulary; the values sum to 1.

        Raises:
            ValueError: ``order`` is out of range.
        """
        m = self.order if order is None else order
        if not 1 <= m <= self.order:
            raise ValueError(f"order must be between 1 and the fitted order {self.order}, got {m}")
        chars = sorted(set(map(chr, self._alphabet.tolist())) | set(context) | set(vocabulary))
        # One pass over len(chars) copies of context + candidate, each starting fresh.
        context = context[max(len(context) - (m - 1), 0) :] if m > 1 else ""
        codes = self._encode("".join(context + ch for ch in chars))
        starts = np.zeros(len(codes), dtype=bool)
        starts[:: len(context) + 1] = True
        probs = self._probs(codes, len(chars), [m], starts)[m][len(context) :: len(context) + 1]
        return dict(zip(chars, probs.tolist()))

    def _encode(self, text: str) -> np.ndarray:
        """Training-character codes of ``text``, -1 for characters not seen in training."""
        points = _code_points(text)
        at = np.searchsorted(self._alphabet, points).clip(max=max(len(self._alphabet) - 1, 0))
        return np.where(self._alphabet[at] == points, at, -1).astype(np.int64)

    def _vocab_size(self, text: str) -> int:
        """|V|: the training characters plus the distinct characters of ``text`` not among them."""
        unseen = set(text) - set(map(chr, self._alphabet.tolist()))
        return len(self._alphabet) + len(unseen)

    def _probs(
        self, codes: np.ndarray, vocab_size: int, orders: list[int], starts: np.ndarray | None = None
    ) -> dict[int, np.ndarray]:
        """``p(codes[i] | codes[:i])`` at each requested order, by the recursion of the module docstring.

        ``starts`` marks positions that begin a new text (no context), besides the first.

        The orders share their lower levels: level k with continuation counts feeds level k + 1 of
        every higher order, and level k with raw counts ends the model of order k.
        """
        base = len(self._alphabet)
        p = np.full(len(codes), 1.0 / vocab_size)  # order 0: uniform over the vocabulary
        out: dict[int, np.ndarray] = {}
        prev_ids = np.zeros(len(codes), dtype=np.int64)
        for k in range(1, max(orders) + 1):
            keys = self._keys[k - 1]
            ctx = prev_ids if k == 1 else np.concatenate(([-1], prev_ids[:-1]))
            if k > 1 and starts is not None:
                ctx[starts] = -1
            known = (ctx >= 0) & (codes >= 0)
            key = ctx * base + codes
            at = np.searchsorted(keys, key).clip(max=max(len(keys) - 1, 0))
            found = keys[at] == key if len(keys) else np.zeros(len(key), dtype=bool)  # no k-gram fits in training
            ids = np.where(known & found, at, -1)
            # The grams of one context are adjacent in the sorted table: [lo, hi) in the table.
            lo = np.searchsorted(keys, ctx * base)
            hi = np.searchsorted(keys, ctx * base + base)
            if k in orders:
                out[k] = self._level(p, ids, ctx, lo, hi, self._raw[k - 1], self._disc[k - 1]["raw"])
            if k < max(orders):
                p = self._level(p, ids, ctx, lo, hi, self._cont[k - 1], self._disc[k - 1]["cont"])
            prev_ids = ids
        return out

    @staticmethod
    def _level(
        lower: np.ndarray,
        ids: np.ndarray,
        ctx: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        counts: np.ndarray,
        disc: tuple[float, float, float],
    ) -> np.ndarray:
        """One interpolation step: ``p_k`` from ``p_{k-1}`` (``lower``) for every position."""
        d1, d2, d3 = disc
        # Range sums of integer prefix sums are exact (float prefix sums would lose digits on big tables).
        total = _range_sum(counts, lo, hi)
        seen = (ctx >= 0) & (total > 0)  # otherwise the context never precedes a character: p_k = p_{k-1}
        c = np.zeros(len(ids), dtype=np.int64)
        c[ids >= 0] = counts[ids[ids >= 0]]
        # D_r <= r, so c - D(c) >= 0 without clipping.
        discounted = np.where(c == 0, 0.0, np.where(c == 1, c - d1, np.where(c == 2, c - d2, c - d3)))
        lo, hi = lo[seen], hi[seen]
        n1, n2 = _range_sum(counts == 1, lo, hi), _range_sum(counts == 2, lo, hi)
        gamma = d1 * n1 + d2 * n2 + d3 * _range_sum(counts >= 3, lo, hi)
        out = lower.copy()
        out[seen] = (discounted[seen] + gamma * lower[seen]) / total[seen]
        return out


def _range_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values[lo[i]:hi[i]].sum()`` for every i, exactly, from one int64 prefix sum."""
    prefix = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    return prefix[hi] - prefix[lo]


def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as int64 (UTF-32 is one unit per character)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def _discounts_of(counts: np.ndarray) -> tuple[float, float, float]:
    """The modified Kneser-Ney discounts of one order's counts."""
    n = np.bincount(counts.clip(max=5), minlength=6)
    return estimate_discounts(int(n[1]), int(n[2]), int(n[3]), int(n[4]))


def best_order(train: str, valid: str, orders: Iterable[int] = range(1, 11)) -> dict[int, float]:
    """Validation loss at each order, all from one fit at the highest order.

    Args:
        train: the training text.
        valid: the validation text (evaluated on its own, see :class:`NgramModel`).
        orders: the orders to try.

    Returns:
        ``{order: validation loss in nats per character}``; the caller picks the lowest.

    Raises:
        ValueError: no orders, an order below 1, or an empty text.
    """
    orders = sorted(set(orders))
    if not orders:
        raise ValueError("no n-gram orders to try")
    return NgramModel().fit(train, orders[-1]).losses(valid, orders)


def ngram_baseline(train: str, valid: str, test: str, orders: Iterable[int] = range(1, 11)) -> dict:
    """The n-gram baseline of a character split: the order picked by validation loss, and its test loss.

    Args:
        train: the training text.
        valid: the validation text (picks the order).
        test: the test text (reported at the chosen order).
        orders: the orders to try.

    Returns:
        ``{"order": n, "val_loss": ..., "test_loss": ..., "by_order": {order: val_loss}}``, losses in
        nats per character. Each text is evaluated on its own (it starts fresh) over the vocabulary of
        the training text and itself, so a character found only in the test text does not change the
        validation loss.

    Raises:
        ValueError: no orders, an order below 1, or an empty text.
    """
    orders = sorted(set(orders))
    if not orders:
        raise ValueError("no n-gram orders to try")
    model = NgramModel().fit(train, orders[-1])
    by_order = model.losses(valid, orders)
    best = min(by_order, key=by_order.get)
    test_loss = model.loss(test, best)
    return {"order": best, "val_loss": by_order[best], "test_loss": test_loss, "by_order": by_order}
