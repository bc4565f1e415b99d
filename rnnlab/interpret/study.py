"""One look inside a character model: activations over a text, unit rankings and gate saturation."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.data.vocab import CharVocab
from rnnlab.interpret.activations import Activations, collect
from rnnlab.interpret.features import all_features
from rnnlab.interpret.ranking import rank_units
from rnnlab.interpret.saturation import gate_saturation
from rnnlab.models.language_model import LanguageModel


@dataclass
class Study:
    """What ``rnnlab units``, ``rnnlab visualize`` and ``rnnlab serve`` show."""

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


def study(model: LanguageModel, vocab: CharVocab, text: str, top: int) -> Study:
    """Run ``model`` over ``text`` and compute everything the page shows.

    Args:
        model: a character model.
        vocab: its vocabulary (characters outside it are read as its first entry).
        text: what the model reads, one step per character.
        top: how many units to keep per feature.

    Returns:
        The activations, the ``top`` units per text feature, and each gate unit's saturation.

    Raises:
        ValueError: an empty text.
    """
    acts = collect(model, vocab, text)
    matrix, names = acts.matrix()
    ranking = rank_units(matrix, all_features(text), names, top)
    return Study(acts, list(vocab.chars), ranking, gate_saturation(acts.states), len(names))
