"""Hidden activations of a character model over a text, one row per character."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.cells.gates import GateCapture
from rnnlab.data.vocab import CharVocab
from rnnlab.interpret.layer_pass import layer_pass
from rnnlab.models.language_model import LanguageModel

#: names of the state entries of cells whose state has more than ``h``
STATE_NAMES = {2: ("h", "c")}


@dataclass
class Activations:
    """What a model computed at every character of a text.

    Attributes:
        text: the text.
        known: ``(N,)`` bool, whether each character is in the model's vocabulary (the others
            were read as the first vocabulary entry and are shown greyed).
        states: ``"layer 1 h"`` -> ``(N, H)`` values after reading each character (for LSTM also
            ``"layer 1 c"``, and for gated cells each gate, ``"layer 1 gate f"``).
        probs: ``(N, V)`` the model's next-character distribution after each character.
    """

    text: str
    known: Tensor
    states: dict[str, Tensor]
    probs: Tensor

    def matrix(self, gates: bool = False) -> tuple[Tensor, list[str]]:
        """The state entries (and with ``gates`` the gates) side by side ``(N, sum H)``, and a name per column."""
        kept = {k: v for k, v in self.states.items() if gates or " gate " not in k}
        names = [f"{key} {i}" for key, v in kept.items() for i in range(v.shape[1])]
        return torch.cat(list(kept.values()), dim=1), names


@torch.no_grad()
def collect(model: LanguageModel, vocab: CharVocab, text: str) -> Activations:
    """Run ``model`` over ``text`` from a zero state, layer by layer: a standard cell in one call
    (:mod:`rnnlab.interpret.layer_pass`), any other one character at a time."""
    if not text:
        raise ValueError("text: empty; give at least one character")
    model = model.eval()
    known = torch.tensor([c in vocab.index for c in text])
    safe = "".join(c if ok else vocab.chars[0] for c, ok in zip(text, known.tolist()))
    x = model.embed(vocab.encode(safe).unsqueeze(1))  # (N, 1, E)
    states: dict[str, Tensor] = {}
    for layer in range(model.rnn.num_layers):
        cell = model.rnn.cell_at(layer)
        x, entries, gates = layer_pass(cell, x) or _step_pass(cell, x)  # x: (N, 1, O) the next layer's input
        labels = STATE_NAMES.get(len(entries), tuple(f"s{k}" if k else "h" for k in range(len(entries))))
        for label, values in zip(labels, entries):
            states[f"layer {layer + 1} {label}"] = values  # (N, H)
        for gate, values in gates.items():
            states[f"layer {layer + 1} gate {gate}"] = values  # (N, H)
    probs = torch.softmax(model.readout(x[:, 0]), dim=-1)  # (N, V)
    return Activations(text, known, states, probs)


def _step_pass(cell, x: Tensor) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
    """:func:`rnnlab.interpret.layer_pass.layer_pass` for any cell: step by step, reading the gates it reports."""
    state = cell.init_state(1, x.device, x.dtype)
    outs, seq = [], []
    with GateCapture() as capture:
        for t in range(x.shape[0]):
            y, state = cell(x[t], state)
            outs.append(y[0])
            seq.append([s[0] for s in state if s.is_floating_point()])
    entries = [torch.stack(values) for values in zip(*seq)]  # (N, H) each
    steps = capture.steps.get(cell, [])
    gates = {gate: torch.stack([s[gate][0] for s in steps]) for gate in (steps[0] if steps else {})}
    return torch.stack(outs).unsqueeze(1), entries, gates
