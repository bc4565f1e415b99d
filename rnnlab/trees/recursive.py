"""The recursive neural network of Socher et al. (2011, "Parsing Natural Scenes and Natural
Language with Recursive Neural Networks"; 2013 for sentiment): the same weights at every node of
a binary tree, the parent from its two children::

    p = tanh(W [h_1; h_2] + V x + b)

A leaf (no children) is ``tanh(V x + b)``: its word's vector mapped to the hidden size. A missing
second child reads as zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.trees.base import TreeCell


class RecursiveCell(TreeCell):
    state_size = 1
    max_children = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.v = nn.Linear(input_size, hidden_size)
        self.w = nn.Linear(2 * hidden_size, hidden_size, bias=False)

    def project(self, x: Tensor) -> Tensor:
        return self.v(x)

    def step(self, projected: Tensor, children: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor]:
        (h,) = children  # (n, K, H)
        n, K, H = h.shape
        h = h * mask.unsqueeze(-1).to(h.dtype)
        if K < 2:
            h = torch.cat([h, h.new_zeros(n, 2 - K, H)], dim=1)
        return (torch.tanh(self.w(h.reshape(n, 2 * H)) + projected),)
