"""The N-ary Tree-LSTM (Tai, Socher & Manning 2015, §3.2, eqs. 9-14) for ``N`` ordered children
(2 by default: binary parses, ListOps after binarisation): each gate reads every child's ``h``
through a matrix of that child's position, and child ``k`` has a forget gate ``f_k`` that reads
all children::

    i   = sigmoid(W_i x + sum_l U_i^l h_l + b_i)     (o and u alike; u with tanh)
    f_k = sigmoid(W_f x + sum_l U_f^{kl} h_l + b_f)
    c   = i * u + sum_l f_l * c_l                    h = o * tanh(c)

A missing child (a leaf has none; a node may have fewer than ``N``) reads as zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.trees.base import TreeCell


class NaryTreeLSTM(TreeCell):
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2) -> None:
        super().__init__(input_size, hidden_size)
        self.max_children = arity
        H = hidden_size
        self.w = nn.Linear(input_size, (3 + arity) * H)
        self.u = nn.Linear(arity * H, (3 + arity) * H, bias=False)  # every U^l and U_f^{kl} in one matrix

    def project(self, x: Tensor) -> Tensor:
        return self.w(x)

    def step(self, projected: Tensor, children: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, Tensor]:
        h, c = children  # (n, K, H) with K <= arity
        n, K, H = h.shape
        N = self.max_children
        keep = mask.unsqueeze(-1).to(h.dtype)
        h, c = h * keep, c * keep
        if K < N:  # pad to the arity: missing children are zeros
            h = torch.cat([h, h.new_zeros(n, N - K, H)], dim=1)
            c = torch.cat([c, c.new_zeros(n, N - K, H)], dim=1)
        gates = projected + self.u(h.reshape(n, N * H))  # (n, (3 + N) H)
        i, o, u = torch.sigmoid(gates[:, :H]), torch.sigmoid(gates[:, H : 2 * H]), torch.tanh(gates[:, 2 * H : 3 * H])
        f = torch.sigmoid(gates[:, 3 * H :].view(n, N, H))
        cell = i * u + (f * c).sum(dim=1)
        return o * torch.tanh(cell), cell
