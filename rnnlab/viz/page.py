"""The hidden-state page: the text coloured by a unit, as one self-contained HTML file or served.

Activations are stored per group (a layer's ``h``, ``c`` or one gate) as int8, each unit scaled by
its largest magnitude, unit after unit, so that a change of unit recolours from one contiguous
slice; the top-5 next characters as byte ids and probabilities in 1/255 steps.

A page of 20,000 characters for a two-layer LSTM of 512 units holds 12 groups of 10 MB each, so
the page never decodes what it does not show: the static page carries each group as its own
base64 block, the group shown first before the page's script and the others after it (the page
is drawn and usable while the browser still reads the rest), and a group is decoded when it is
first picked. The served page fetches a group's raw bytes from ``group/<k>`` when it is picked.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from rnnlab.fileio import atomic_write_bytes
from rnnlab.interpret.activations import Activations
from rnnlab.interpret.study import Study
from rnnlab.viz.saturation import plot_saturation

TOP_K = 5


@dataclass
class Page:
    """``meta``: the JSON the page's script reads; ``groups``: each group's ``(H, N)`` int8 values as bytes."""

    meta: dict
    groups: list[bytes]

    @property
    def first(self) -> int:
        """The group shown when the page opens: the best unit of the first feature that has one."""
        return next((e[0]["group"] for e in self.meta["ranking"].values() if e), 0)


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.contiguous().numpy().tobytes()).decode("ascii")


def page_data(acts: Activations, ranking: dict[str, list[dict]], chars: list[str], feature_set: str = "") -> Page:
    """Everything the page shows.

    Args:
        acts: the activations over the text.
        ranking: feature -> its best units (:func:`rnnlab.interpret.ranking.rank_units`).
        chars: the model's vocabulary.
        feature_set: which features were ranked and why ("c (the run's corpus linux)"), shown
            above them; empty: not shown.

    Returns:
        The page's data.
    """
    if len(chars) > 256:
        raise ValueError(f"vocabulary: the page shows at most 256 characters' predictions, got {len(chars)}")
    groups, blobs, number = [], [], {}
    for k, (name, values) in enumerate(acts.states.items()):
        scale = values.abs().amax(0).clamp_min(1e-12)  # (H,)
        q = (values / scale * 127).round().clamp(-127, 127).to(torch.int8).t()  # (H, N), unit-major
        groups.append({"name": name, "units": values.shape[1], "scale": scale.tolist()})
        blobs.append(q.contiguous().numpy().tobytes())
        number[name] = k
    probs, ids = acts.probs.topk(min(TOP_K, acts.probs.shape[1]), dim=1)  # (N, K)
    ranked = {}
    for feature, entries in ranking.items():
        ranked[feature] = []
        for e in entries:
            group, unit = e["unit"].rsplit(" ", 1)  # "layer 1 c 40"
            ranked[feature].append({**e, "group": number[group], "unit_index": int(unit)})
    meta = {
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
        "feature_set": feature_set,
    }
    return Page(meta, blobs)


def study_page(found: Study, figure: Path) -> Page:
    """The page of a study, with its gate-saturation scatter embedded.

    Args:
        found: what :func:`rnnlab.interpret.study.study` computed.
        figure: where the scatter is drawn as a PNG (kept beside the page); a cell without gates
            has no scatter, and nothing is written.

    Returns:
        The page's data.
    """
    chosen = f"{found.choice.name} ({found.choice.reason})"
    page = page_data(found.acts, found.ranking, found.chars, chosen)
    if found.saturation:
        plot_saturation(found.saturation, figure)
        page.meta["saturation_png"] = base64.b64encode(figure.read_bytes()).decode("ascii")
    return page


def _block(page: Page, k: int) -> str:
    # a group's bytes, then a one-line script that runs once the parser is past them
    b64 = base64.b64encode(page.groups[k]).decode("ascii")
    return f'<script type="application/octet-stream" id="group-{k}">{b64}</script><script>groupParsed({k})</script>\n'


def script_json(value) -> str:
    """``value`` as JSON to sit inside a ``<script>`` element, whatever its strings hold.

    Inside a script element the HTML tokenizer reacts to ``</script``, and after ``<!--`` also to
    ``<script``, which keeps a later ``</script>`` from closing the element (the page's data
    would run on into its script). Every ``<`` is therefore written ``\\u003c``: JSON has ``<``
    only inside strings, where the escape reads back as the same character.
    """
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(page: Page, group_url: str | None = None) -> str:
    """The page's HTML (its data as :func:`script_json`, so any text round-trips).

    Args:
        page: what to show.
        group_url: ``None`` embeds every group (the static page); otherwise the page fetches
            group ``k`` from ``group_url + str(k)`` when it is first shown.
    """
    template = resources.files("rnnlab.viz").joinpath("templates/units.html").read_text(encoding="utf-8")
    meta = page.meta if group_url is None else {**page.meta, "group_url": group_url}
    # the template is cut at its markers before the data goes in, so no text can be taken for one
    start, rest = template.split("/*DATA*/")
    middle, rest = rest.split("<!--FIRST-->")
    script, end = rest.split("<!--GROUPS-->")
    head = start + script_json(meta) + middle
    if group_url is not None:
        return head + script + end
    others = "".join(_block(page, k) for k in range(len(page.groups)) if k != page.first)
    return head + _block(page, page.first) + script + others + end


def write_page(path: Path, page: Page) -> None:
    """Write the static page atomically."""
    atomic_write_bytes(path, render(page).encode("utf-8"))
