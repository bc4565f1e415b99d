"""The hidden-state page: one self-contained HTML file (no network), text coloured by a unit.

Activations are stored per unit as int8 (each unit scaled by its largest magnitude), unit after
unit, so that a change of unit recolours from one contiguous slice; the top-5 next characters as
byte ids and probabilities in 1/255 steps. All of it is base64 inside the page.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

import torch

from rnnlab.fileio import atomic_write_bytes
from rnnlab.interpret.activations import Activations

TOP_K = 5


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.contiguous().numpy().tobytes()).decode("ascii")


def page_data(acts: Activations, ranking: dict[str, list[dict]], chars: list[str]) -> dict:
    """Everything the page shows, as JSON-ready values."""
    if len(chars) > 256:
        raise ValueError(f"vocabulary: the page shows at most 256 characters' predictions, got {len(chars)}")
    groups, number = [], {}
    for k, (name, values) in enumerate(acts.states.items()):
        scale = values.abs().amax(0).clamp_min(1e-12)  # (H,)
        q = (values / scale * 127).round().clamp(-127, 127).to(torch.int8).t()  # (H, N), unit-major
        groups.append({"name": name, "units": values.shape[1], "scale": scale.tolist(), "data": _b64(q)})
        number[name] = k
    probs, ids = acts.probs.topk(min(TOP_K, acts.probs.shape[1]), dim=1)  # (N, K)
    ranked = {}
    for feature, entries in ranking.items():
        ranked[feature] = []
        for e in entries:
            group, unit = e["unit"].rsplit(" ", 1)  # "layer 1 c 40"
            ranked[feature].append({**e, "group": number[group], "unit_index": int(unit)})
    return {
        "text": acts.text,
        "known": _b64(acts.known.to(torch.uint8)),
        "groups": groups,
        "top": {
            "k": ids.shape[1],
            "chars": chars,
            "ids": _b64(ids.to(torch.uint8)),
            "probs": _b64((probs * 255).round().to(torch.uint8)),
        },
        "ranking": ranked,
    }


def render(data: dict) -> str:
    """The page's HTML with ``data`` inside (``</`` escaped so the text cannot close the script)."""
    template = resources.files("rnnlab.viz").joinpath("templates/units.html").read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return template.replace("/*DATA*/", payload)


def write_page(path: Path, data: dict) -> None:
    """Write the page atomically."""
    atomic_write_bytes(path, render(data).encode("utf-8"))
