"""The tagger models by name (``TaggerConfig.model``) and :func:`build_tagger`."""

from __future__ import annotations

from torch import nn

from rnnlab import checks
from rnnlab.models.joint import JointTagger
from rnnlab.models.slot_rnn import ElmanTagger, JordanTagger
from rnnlab.models.tagger import Tagger, TaggerConfig, TagModel

TAGGERS: dict[str, type[TagModel]] = {
    "bilstm": Tagger,
    "elman": ElmanTagger,
    "jordan": JordanTagger,
    "joint": JointTagger,
}


def build_tagger(config: TaggerConfig) -> nn.Module:
    """The tagger model ``config.model`` names, built (and ``config`` checked).

    Raises:
        ValueError: one line, for an unknown model or a bad architecture.
    """
    checks.choice("model", config.model, tuple(TAGGERS))
    return TAGGERS[config.model](config)
