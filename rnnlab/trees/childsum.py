"""The Child-Sum Tree-LSTM (Tai, Socher & Manning 2015, "Improved Semantic Representations From
Tree-Structured Long Short-Term Memory Networks", §3.1, eqs. 2-8): any number of children, in
any order; the gates read the sum of the children's ``h``, and each child has a forget gate of
its own::

    h~  = sum_k h_k
    i   = sigmoid(W_i x + U_i h~ + b_i)      o = sigmoid(W_o x + U_o h~ + b_o)
    u   = tanh(W_u x + U_u h~ + b_u)         f_k = sigmoid(W_f x + U_f h_k + b_f)
    c   = i * u + sum_k f_k * c_k            h = o * tanh(c)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.trees.base import TreeCell


class ChildSumTreeLSTM(TreeCell):
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        H = hidden_size
        self.w = nn.Linear(input_size, 4 * H)  # W_i, W_o, W_u, W_f and the biases
        self.u_iou = nn.Linear(H, 3 * H, bias=False)
        self.u_f = nn.Linear(H, H, bias=False)

    def project(self, x: Tensor) -> Tensor:
        return self.w(x)

    def step(self, projected: Tensor, children: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, Tensor]:
        h, c = children  # (n, K, H)
        keep = mask.unsqueeze(-1).to(h.dtype)
        wi, wo, wu, wf = projected.chunk(4, dim=-1)  # (n, H) each
        ui, uo, uu = self.u_iou((h * keep).sum(dim=1)).chunk(3, dim=-1)
        i, o, u = torch.sigmoid(wi + ui), torch.sigmoid(wo + uo), torch.tanh(wu + uu)
        f = torch.sigmoid(wf.unsqueeze(1) + self.u_f(h))  # (n, K, H)
        cell = i * u + (f * c * keep).sum(dim=1)
        return o * torch.tanh(cell), cell
