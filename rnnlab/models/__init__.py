"""Models built from recurrent layers."""

from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["LanguageModel", "ModelConfig", "Seq2Seq", "Seq2SeqConfig"]
