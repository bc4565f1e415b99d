"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 4): how often each gate unit is nearly
closed (left-saturated, below 0.1) or nearly open (right-saturated, above 0.9)."""

from __future__ import annotations

from torch import Tensor

LEFT, RIGHT = 0.1, 0.9


def gate_saturation(states: dict[str, Tensor]) -> dict[str, dict[str, list[float]]]:
    """Per gate entry of :class:`rnnlab.interpret.activations.Activations` (``"layer 1 gate f"``),
    each unit's fraction of characters below :data:`LEFT` and above :data:`RIGHT`."""
    return {
        name: {"left": (values < LEFT).double().mean(0).tolist(), "right": (values > RIGHT).double().mean(0).tolist()}
        for name, values in states.items()
        if " gate " in name
    }
