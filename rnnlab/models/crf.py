"""A linear-chain conditional random field over the tags of a sentence (Lafferty et al. 2001), as
the output layer of a recurrent tagger (Huang, Xu & Yu 2015; Lample et al. 2016).

The score of a tag path ``y`` for emissions ``e`` (the recurrent net's per-token tag scores) is
``start[y_1] + sum_t e_t[y_t] + sum_t A[y_{t-1}, y_t] + end[y_T]``, and
``log p(y | x) = score(y) - log Z`` with ``Z`` the sum of ``exp(score)`` over all K^T paths, which
the forward algorithm computes in O(T K^2). Viterbi decoding finds the best path the same way with
max in place of log-sum-exp.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CRF(nn.Module):
    """Transition scores between ``num_tags`` tags, plus start and end scores.

    Shapes: emissions ``(T, B, K)``, tags ``(T, B)`` int64, mask ``(T, B)`` bool with every
    sentence's valid steps first (``mask[0]`` all true).
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.empty(num_tags))
        self.end = nn.Parameter(torch.empty(num_tags))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.transitions, self.start, self.end):
            nn.init.uniform_(p, -0.1, 0.1)

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The score ``(B,)`` of the given tag paths."""
        maskf = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (T, B)
        score = self.start[tags[0]] + (emit * maskf).sum(0)
        score = score + (self.transitions[tags[:-1], tags[1:]] * maskf[1:]).sum(0)
        last = tags.gather(0, (mask.sum(0) - 1).unsqueeze(0)).squeeze(0)  # (B,)
        return score + self.end[last]

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``log Z`` ``(B,)`` by the forward algorithm."""
        alpha = self.start + emissions[0]  # (B, K): log-sum of the scores of paths ending in each tag
        for t in range(1, emissions.shape[0]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[t]  # (B, K)
            alpha = torch.where(mask[t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``log p(tags | x)`` ``(B,)``."""
        return self.path_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The best tag path of each sentence (Viterbi), as lists of its valid length."""
        T, B, _ = emissions.shape
        score = self.start + emissions[0]  # (B, K)
        back = []
        for t in range(1, T):
            best, arg = (score.unsqueeze(2) + self.transitions).max(dim=1)  # (B, K): best previous tag
            back.append(arg)
            score = torch.where(mask[t].unsqueeze(1), best + emissions[t], score)
        back = torch.stack(back).tolist() if back else []  # (T - 1, B, K) as lists: fast to walk
        lengths = mask.sum(0).tolist()
        last = (score + self.end).argmax(dim=1).tolist()
        paths = []
        for b in range(B):
            tag, path = last[b], [last[b]]
            for t in range(lengths[b] - 1, 0, -1):
                tag = back[t - 1][b][tag]
                path.append(tag)
            paths.append(path[::-1])
        return paths
