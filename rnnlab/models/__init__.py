"""Models built from recurrent layers."""

from rnnlab.models.captioner import CaptionConfig, Captioner, ConvEncoder
from rnnlab.models.decoder import AttentionDecoder
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnlab.models.tree import TreeClassifier, TreeModelConfig

__all__ = [
    "AttentionDecoder",
    "CaptionConfig",
    "Captioner",
    "ConvEncoder",
    "LanguageModel",
    "ModelConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "TreeClassifier",
    "TreeModelConfig",
]
