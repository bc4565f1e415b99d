"""What a tagger predicts and how it scores: the tags of each sentence (and, from a model with an
intent head, its intent), shared by the processes that tag; slot (entity) F1 as ``conlleval``
counts it, intent accuracy and sentence accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnnlab.data.batching import bucket_batches
from rnnlab.data.conll import Sentence
from rnnlab.metrics import entity_scores
from rnnlab.train.distributed import ALONE, World, gather_parts

if TYPE_CHECKING:
    from rnnlab.tasks.tag import TagEncoder

EVAL_BATCH = 64


@dataclass
class Prediction:
    """A sentence's tags (in the file's scheme) and, from a model with an intent head, its intent
    and the intent's probability (known only to the process that tagged the sentence; ``None`` on
    the others)."""

    tags: list[str]
    intent: str | None = None
    probability: float | None = None


def predict(model, encoder: TagEncoder, sentences: list[tuple[str, ...]], world: World = ALONE) -> list[Prediction]:
    """Each sentence's :class:`Prediction`, in order; each process of ``world`` tags its part of the
    sentences and the processes share their tags and intents."""
    model.eval()
    part = world.part(len(sentences))
    mine = sentences[part]
    intents = model.has_intent
    paths: list[list[int]] = [[] for _ in mine]
    chance = [0.0] * len(mine)  # the intent's probability, known to the process that predicted it
    for batch in bucket_batches([len(s) for s in mine], EVAL_BATCH, None):
        inputs = encoder.batch([mine[i] for i in batch])
        if intents:
            tags, *found = model.predict_all(inputs)
        else:
            tags, found = model.predict(inputs), [[None] * len(batch)] * 2
        for i, path, intent, p in zip(batch, tags, *found):
            paths[i] = path + ([intent] if intents else [])  # the intent id rides at the end
            chance[i] = p
    paths = gather_parts(paths, part, [len(s) + intents for s in sentences], world)
    out = []
    for k, path in enumerate(paths):
        mine_k = k - part.start if part.start <= k < part.stop else None
        p = chance[mine_k] if intents and mine_k is not None else None
        if intents:
            out.append(Prediction(encoder.tag_names(path[:-1]), encoder.intents.names[path[-1]], p))
        else:
            out.append(Prediction(encoder.tag_names(path)))
    return out


def predict_tags(model, encoder: TagEncoder, sentences: list[tuple[str, ...]], world: World = ALONE) -> list[list[str]]:
    """The tags (in the file's scheme) of each sentence, in order."""
    return [p.tags for p in predict(model, encoder, sentences, world)]


def score(model, encoder: TagEncoder, sentences: list[Sentence], world: World = ALONE) -> dict:
    """Entity (slot) precision, recall and F1 as ``conlleval`` counts them (tag accuracy for tags
    without entities); with an intent head, the intent accuracy and the sentence accuracy (every
    tag and the intent right). An intent never seen in training is an error."""
    gold = [list(s.tags) for s in sentences]
    found = predict(model, encoder, [s.tokens for s in sentences], world)
    pred = [p.tags for p in found]
    if encoder.scheme == "none":
        right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
        scores = {"accuracy": right / sum(len(g) for g in gold)}
    else:
        scores = entity_scores(gold, pred)
    if model.has_intent:
        intent_right = [p.intent == s.intent for p, s in zip(found, sentences)]
        scores["intent_accuracy"] = sum(intent_right) / len(sentences)
        whole = [ok and g == p for ok, g, p in zip(intent_right, gold, pred)]
        scores["sentence_accuracy"] = sum(whole) / len(sentences)
    return scores
