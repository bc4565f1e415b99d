"""Models built from recurrent layers."""

from rnnlab.models.language_model import LanguageModel, ModelConfig

__all__ = ["LanguageModel", "ModelConfig"]
