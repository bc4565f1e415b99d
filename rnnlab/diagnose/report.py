"""All diagnostics of a set of subjects: gradient flow, step Jacobians, recurrent spectra."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from rnnlab.diagnose.flow import gradient_flow, trace
from rnnlab.diagnose.jacobian import eigenvalues, jacobian_spectrum
from rnnlab.diagnose.subjects import Subject


@dataclass
class Diagnosis:
    """What was measured on one subject (tensors for the figures, ``summary`` for JSON)."""

    label: str
    profiles: Tensor  # (L, T): median ||dL_T/dh_{T-d}|| over the batch, by distance d
    sigma_max: list[Tensor] = field(default_factory=list)  # per layer (T,)
    log10_product: list[Tensor] = field(default_factory=list)  # per layer (T,)
    eigen: list[dict[str, Tensor]] = field(default_factory=list)  # per layer: block name -> eigenvalues
    summary: dict = field(default_factory=dict)


def diagnose(subject: Subject, jacobians: bool = True) -> Diagnosis:
    """Run every diagnostic on ``subject``.

    Args:
        subject: the stack, its inputs and its loss.
        jacobians: also compute the step Jacobians (one ``S x S`` matrix per layer and step).
    """
    rnn, T = subject.rnn, subject.x.shape[0]
    tr = trace(rnn, subject.x)
    profiles, flows = gradient_flow(tr, subject.loss_at_end)
    result = Diagnosis(subject.label, profiles.detach())
    layers = []
    for layer in range(rnn.num_layers):
        cell = rnn.cell_at(layer)
        entry = {"gradient_flow": flows[layer]}
        eig = eigenvalues(cell)
        result.eigen.append(eig)
        entry["spectral_radius"] = {k: float(v.abs().max()) for k, v in eig.items()}
        entry["eigenvalues_outside_unit_circle"] = {k: int((v.abs() > 1).sum()) for k, v in eig.items()}
        if jacobians:
            js = jacobian_spectrum(cell, tr.inputs[layer], tr.states[layer], tr.initial[layer])
            result.sigma_max.append(js["sigma_max"])
            result.log10_product.append(js["log10_product"])
            entry["jacobian"] = {
                "state_size": _state_size(tr.initial[layer]),
                "sigma_max_mean": float(js["sigma_max"].mean()),
                "sigma_max_range": [float(js["sigma_max"].min()), float(js["sigma_max"].max())],
                "log10_product_norm_at_T": float(js["log10_product"][-1]),
                "log10_product_per_step": float(js["log10_product"][-1]) / T,
            }
        layers.append(entry)
    result.summary = {"label": subject.label, "source": subject.source, "T": T, "batch": subject.x.shape[1]}
    result.summary["layers"] = layers
    return result


def _state_size(state) -> int:
    return sum(s[0].numel() for s in state if s.is_floating_point())


def run_all(subjects: list[Subject], jacobians: bool = True, log=print) -> list[Diagnosis]:
    """:func:`diagnose` each subject in turn, logging one line each."""
    results = []
    for subject in subjects:
        with torch.enable_grad():  # the weights take part in the graph; only dL/dh_t is computed
            results.append(diagnose(subject, jacobians))
        log(describe(results[-1]))
    return results


def describe(result: Diagnosis) -> str:
    """One line on how fast the gradient fades in the first layer."""
    flow = result.summary["layers"][0]["gradient_flow"]
    slope, below = flow["log10_per_step"], flow["distance_below_threshold"]
    slope_text = "n/a" if slope is None else f"{slope:+.3f}"
    below_text = f"after {below} steps" if below is not None else f"not within {result.summary['T'] - 1} steps"
    return f"{result.label}: log10 ||dL_T/dh_t|| {slope_text} per step back; under 1e-6 of its start {below_text}"
