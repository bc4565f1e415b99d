"""rnnlab's classes fixed on one of their own paths, so that the swapped tests also run the code
rnnlab adds (explicit BPTT, the step loop) and not only ``torch.nn``'s forward that a plain call
takes. They are module-level classes so that whole-module pickles name them.

GRU has no explicit-BPTT path: under ``"rnnlab-bptt"`` it runs the step loop, which is what it
runs inside a :class:`rnnlab.GradientFlow` block. An LSTM with ``proj_size`` has only the fused
kernel, and runs on it.
"""

import types

import pytest
import torch

import rnnlab


class BpttRNN(rnnlab.RNN):
    def __init__(self, *args, path="bptt", **kwargs):
        super().__init__(*args, path=path, **kwargs)


class BpttLSTM(rnnlab.LSTM):
    def __init__(self, *args, path="bptt", **kwargs):
        super().__init__(*args, path="auto" if kwargs.get("proj_size") else path, **kwargs)


class StepsRNN(rnnlab.RNN):
    def __init__(self, *args, path="steps", **kwargs):
        super().__init__(*args, path=path, **kwargs)


class StepsGRU(rnnlab.GRU):
    def __init__(self, *args, path="steps", **kwargs):
        super().__init__(*args, path=path, **kwargs)


class StepsLSTM(rnnlab.LSTM):
    def __init__(self, *args, path="steps", **kwargs):
        super().__init__(*args, path="auto" if kwargs.get("proj_size") else path, **kwargs)


#: implementation name -> a namespace with its RNN, GRU and LSTM
IMPLS = {
    "torch": types.SimpleNamespace(RNN=torch.nn.RNN, GRU=torch.nn.GRU, LSTM=torch.nn.LSTM),
    "rnnlab": types.SimpleNamespace(RNN=rnnlab.RNN, GRU=rnnlab.GRU, LSTM=rnnlab.LSTM),
    "rnnlab-bptt": types.SimpleNamespace(RNN=BpttRNN, GRU=StepsGRU, LSTM=BpttLSTM),
    "rnnlab-steps": types.SimpleNamespace(RNN=StepsRNN, GRU=StepsGRU, LSTM=StepsLSTM),
}
# torch.nn's own run is the control that shows a test can pass, and the other paths repeat every
# test: they run in the full suite only; the quick tier runs rnnlab's default
TIER = {"torch": pytest.mark.slow, "rnnlab": (), "rnnlab-bptt": pytest.mark.slow, "rnnlab-steps": pytest.mark.slow}

#: what the explicit-BPTT path does not do: its backward is written by hand, first order only
FIRST_ORDER_ONLY = "the explicit-BPTT path computes first derivatives only"


def on_bptt(module: torch.nn.Module) -> bool:
    """Whether ``module`` runs on explicit BPTT: its gradients are first order only, and not
    batched (``vmap`` over its backward), so those checks expect its error or are left out."""
    return getattr(module, "resolved_path", lambda: "fused")() == "bptt"
