"""Scores of classifiers and taggers: accuracy, macro-F1, confusion matrices, entity-level F1."""

from rnnlab.metrics.classes import class_scores, confusion_matrix
from rnnlab.metrics.entities import entities, entity_scores

__all__ = ["class_scores", "confusion_matrix", "entities", "entity_scores"]
