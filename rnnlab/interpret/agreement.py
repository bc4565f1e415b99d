"""The long-dependency probe of the seed notes ("The cat, which already ate ..., was full" against
"The cats ... were full"): does a word model prefer the verb that agrees with a subject many
words back?

Minimal pairs are built from the model's own vocabulary: ``the <noun>``, then ``d`` intervening
words, then the verb, singular or plural (``is/are``, ``was/were``, ``has/have``); the model is
right when it gives the agreeing form the higher probability. The intervening words are a
relative clause (``that bought the <noun>``, 4 words, or ``that also bought the <noun>``, 5) and
prepositional phrases (``in the <noun>``, 3 words each), so every ``d`` of 0 and from 3 up can be
built. Each noun in between is singular or plural at random (an "attractor" half the time), so
neither the nearest noun nor a fixed guess gets it right; the method follows Linzen, Dupoux &
Goldberg (2016), "Assessing the ability of LSTMs to learn syntax-sensitive dependencies".
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from rnnlab.data.words import EOS, WordVocab
from rnnlab.models.language_model import LanguageModel

NOUNS = [
    ("company", "companies"), ("bank", "banks"), ("market", "markets"), ("investor", "investors"),
    ("analyst", "analysts"), ("official", "officials"), ("executive", "executives"), ("firm", "firms"),
    ("trader", "traders"), ("manager", "managers"), ("director", "directors"), ("economist", "economists"),
    ("customer", "customers"), ("lawyer", "lawyers"), ("worker", "workers"), ("dealer", "dealers"),
    ("broker", "brokers"), ("buyer", "buyers"), ("member", "members"), ("agency", "agencies"),
    ("government", "governments"), ("plant", "plants"), ("report", "reports"), ("fund", "funds"),
    ("partner", "partners"), ("client", "clients"), ("shareholder", "shareholders"), ("employee", "employees"),
    ("maker", "makers"), ("leader", "leaders"), ("owner", "owners"), ("student", "students"),
    ("cat", "cats"), ("dog", "dogs"), ("teacher", "teachers"), ("doctor", "doctors"),
]  # fmt: skip
VERBS = [("is", "are"), ("was", "were"), ("has", "have")]
CLAUSE_VERBS = ["bought", "sold", "acquired", "owned", "criticized", "rejected", "approved", "supported",
                "opposed", "sued", "hired", "advised", "visited", "expected", "ate"]  # fmt: skip
ADVERBS = ["also", "recently", "already", "never"]
PREPOSITIONS = ["in", "of", "with", "for", "from", "at"]


@dataclass
class Pair:
    """One minimal pair: the words before the verb, and the agreeing and the other verb form."""

    prefix: list[str]  # "the <noun> ..." (without the leading <eos>)
    right: str
    wrong: str
    distance: int  # words between the subject noun and the verb
    plural: bool  # the subject's number


class Lexicon:
    """The probe's words that are in a vocabulary.

    Raises:
        ValueError: the vocabulary lacks what the probe needs (not an English word model).
    """

    def __init__(self, vocab: WordVocab) -> None:
        has = vocab.index.__contains__
        self.nouns = [p for p in NOUNS if has(p[0]) and has(p[1])]
        self.verbs = [p for p in VERBS if has(p[0]) and has(p[1])]
        self.clause_verbs = [w for w in CLAUSE_VERBS if has(w)]
        self.adverbs = [w for w in ADVERBS if has(w)]
        self.prepositions = [w for w in PREPOSITIONS if has(w)]
        lacking = [
            name
            for name, found, need in [
                ("noun pairs", self.nouns, 2),
                ("verb pairs (is/are, was/were, has/have)", self.verbs, 1),
                ("past-tense verbs", self.clause_verbs, 1),
                ("adverbs", self.adverbs, 1),
                ("prepositions", self.prepositions, 1),
            ]  # fmt: skip
            if len(found) < need
        ]
        if lacking or not (has("the") and has("that")):
            missing = ", ".join(lacking + ([] if has("the") and has("that") else ["'the' and 'that'"]))
            raise ValueError(f"vocabulary: the agreement probe needs English words the model lacks: {missing}")


def distances(max_distance: int) -> list[int]:
    """The distances the probe builds: 0 and 3 .. ``max_distance``."""
    return [0, *range(3, max_distance + 1)]


def _noun(lex: Lexicon, rng: random.Random) -> str:
    return rng.choice(lex.nouns)[rng.random() < 0.5]


def _filler(lex: Lexicon, d: int, rng: random.Random) -> list[str]:
    """``d`` intervening words: an optional relative clause (4 or 5 words), then phrases of 3."""
    words: list[str] = []
    if d % 3:
        adverb = [rng.choice(lex.adverbs)] if d % 3 == 2 else []
        words += ["that", *adverb, rng.choice(lex.clause_verbs), "the", _noun(lex, rng)]
    while len(words) < d:
        words += [rng.choice(lex.prepositions), "the", _noun(lex, rng)]
    return words


def make_pairs(vocab: WordVocab, max_distance: int = 15, per_distance: int = 200, seed: int = 0) -> list[Pair]:
    """``per_distance`` minimal pairs at each of :func:`distances`, half with a plural subject."""
    if max_distance < 0 or max_distance in (1, 2):
        raise ValueError(f"max_distance: expected 0 or at least 3, got {max_distance}")
    if per_distance < 1:
        raise ValueError(f"pairs: expected a positive number, got {per_distance}")
    lex, rng = Lexicon(vocab), random.Random(seed)
    pairs = []
    for d in distances(max_distance):
        for k in range(per_distance):
            plural = k % 2 == 1
            noun = rng.choice(lex.nouns)[plural]
            singular_verb, plural_verb = rng.choice(lex.verbs)
            right, wrong = (plural_verb, singular_verb) if plural else (singular_verb, plural_verb)
            pairs.append(Pair(["the", noun, *_filler(lex, d, rng)], right, wrong, d, plural))
    return pairs


@torch.no_grad()
def accuracy_by_distance(model: LanguageModel, vocab: WordVocab, pairs: list[Pair]) -> dict[int, dict]:
    """Per distance: the fraction of pairs where the agreeing verb is the more probable, and the
    mean log-probability margin (agreeing minus other form), from ``<eos>`` and a zero state."""
    model.eval()
    result = {}
    for d in sorted({p.distance for p in pairs}):
        group = [p for p in pairs if p.distance == d]  # all prefixes of a distance have one length
        ids = torch.stack([vocab.ids([EOS, *p.prefix]) for p in group], dim=1)  # (T, B)
        logp = torch.log_softmax(model(ids)[0][-1].double(), dim=-1)  # (B, V) at the verb
        right = logp.gather(1, vocab.ids([p.right for p in group]).unsqueeze(1)).squeeze(1)
        wrong = logp.gather(1, vocab.ids([p.wrong for p in group]).unsqueeze(1)).squeeze(1)
        margin = right - wrong
        result[d] = {"pairs": len(group), "accuracy": float((margin > 0).double().mean()),
                     "margin": float(margin.mean())}  # fmt: skip
    return result
