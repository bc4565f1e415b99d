"""One look inside a character model: activations over a text, unit rankings, gate saturation, page data."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rnnlab.data.corpora import load_corpus
from rnnlab.interpret.activations import Activations, collect
from rnnlab.interpret.features import all_features
from rnnlab.interpret.ranking import rank_units
from rnnlab.interpret.saturation import gate_saturation, plot_saturation
from rnnlab.tasks.lm import load_model

if TYPE_CHECKING:
    from rnnlab.viz.page import Page


@dataclass
class Study:
    """What ``rnnlab visualize`` and ``rnnlab serve`` show."""

    acts: Activations
    chars: list[str]  # the model's vocabulary
    ranking: dict[str, list[dict]]
    saturation: dict[str, dict[str, list[float]]]
    units: int  # ranked units (h and c of every layer)

    def summary(self) -> dict:
        """The JSON written beside the page."""
        return {
            "characters": len(self.acts.text),
            "outside_vocabulary": int((~self.acts.known).sum()),
            "units": self.units,
            "features": self.ranking,
            "gate_saturation": self.saturation,
        }

    def page(self, figure: Path) -> Page:
        """The page; the saturation scatter is drawn to ``figure`` and embedded."""
        from rnnlab.viz.page import page_data

        page = page_data(self.acts, self.ranking, self.chars)
        if self.saturation:
            plot_saturation(self.saturation, figure)
            page.meta["saturation_png"] = base64.b64encode(figure.read_bytes()).decode("ascii")
        return page


def load_char_model(run_dir: Path):
    """``(model, vocab, model_config)`` of a character-level run.

    Raises:
        ValueError: no such run, or a word-level run (the features are per character).
    """
    if not Path(run_dir).is_dir():
        raise ValueError(f"OUT: {run_dir} is not a run directory")
    model, vocab, cfg, _, _ = load_model(Path(run_dir))
    if vocab.unit != "char":
        raise ValueError(f"OUT: {run_dir} is a {vocab.unit}-level model; the unit features are per character")
    return model, vocab, cfg


def study(run_dir: Path, text_spec: str, chars: int, top: int) -> Study:
    """Load the run, read at most ``chars`` characters of ``text_spec`` and compute everything.

    Raises:
        ValueError: a run that does not exist or cannot be read, or a text that cannot be read
            (the message starts with the flag to blame).
    """
    model, vocab, _ = load_char_model(run_dir)
    try:
        text = load_corpus(text_spec)[:chars]
    except ValueError as e:
        raise ValueError(f"--text: {str(e).removeprefix('data: ')}") from e
    acts = collect(model, vocab, text)
    matrix, names = acts.matrix()
    ranking = rank_units(matrix, all_features(text), names, top)
    return Study(acts, list(vocab.chars), ranking, gate_saturation(acts.states), len(names))
