"""One look inside a character model: activations over a text, unit rankings and gate saturation."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.data.vocab import CharVocab
from rnnlab.interpret.activations import Activations, collect
from rnnlab.interpret.feature_sets import Choice
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
    choice: Choice  # the feature set ranked against

    def summary(self) -> dict:
        """The JSON written beside the page."""
        return {
            "characters": len(self.acts.text),
            "outside_vocabulary": int((~self.acts.known).sum()),
            "units": self.units,
            "feature_set": self.choice.name,
            "feature_set_chosen_by": self.choice.reason,
            "features": self.ranking,
            "gate_saturation": self.saturation,
        }


def study(model: LanguageModel, vocab: CharVocab, text: str, top: int, choice: Choice | None = None) -> Study:
    """Run ``model`` over ``text`` and compute everything the page shows.

    Args:
        model: a character model.
        vocab: its vocabulary (characters outside it are read as its first entry).
        text: what the model reads, one step per character.
        top: how many units to keep per feature.
        choice: the feature set (:func:`rnnlab.interpret.feature_sets.choose`); ``None``: ``all``.

    Returns:
        The activations, the ``top`` units per text feature, and each gate unit's saturation.

    Raises:
        ValueError: an empty text.
    """
    acts = collect(model, vocab, text)
    matrix, names = acts.matrix()
    choice = choice or Choice("all", "asked for")
    ranking = rank_units(matrix, choice.features.compute(text), names, top)
    return Study(acts, list(vocab.chars), ranking, gate_saturation(acts.states), len(names), choice)
