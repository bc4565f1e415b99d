"""The CRF, entity scoring against seqeval, CoNLL reading, tag schemes and the tagger model."""

import itertools
import random

import pytest
import torch
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOBES

from rnnlab.data.conll import check_scheme, detect_scheme, parse_conll, to_bio, to_bioes
from rnnlab.data.corpora import DataError
from rnnlab.metrics import entities, entity_scores
from rnnlab.models.crf import CRF
from rnnlab.models.tagger import Tagger, TaggerConfig


def _all_paths(crf, emissions, length):
    """Every tag path of one sentence with its score, the slow way."""
    K = crf.num_tags
    for path in itertools.product(range(K), repeat=length):
        score = crf.start[path[0]] + crf.end[path[-1]]
        score = score + sum(emissions[t, path[t]] for t in range(length))
        score = score + sum(crf.transitions[path[t - 1], path[t]] for t in range(1, length))
        yield path, score


@torch.no_grad()
def test_crf_forward_algorithm_and_viterbi_match_brute_force_over_all_paths():
    torch.manual_seed(3)
    crf = CRF(3).double()
    for p in crf.parameters():
        torch.nn.init.normal_(p)
    lengths = [4, 1, 3]
    emissions = torch.randn(4, 3, 3, dtype=torch.float64)
    mask = torch.arange(4).unsqueeze(1) < torch.tensor(lengths)
    log_z = crf.log_partition(emissions, mask)
    best = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        paths = list(_all_paths(crf, emissions[:, b], n))
        scores = torch.stack([s for _, s in paths])
        assert float(log_z[b]) == pytest.approx(float(torch.logsumexp(scores, 0)), abs=1e-10)
        assert best[b] == list(paths[int(scores.argmax())][0])
        tags = torch.zeros(4, 1, dtype=torch.int64)
        tags[:n, 0] = torch.tensor(paths[5 % len(paths)][0])
        one = crf.path_score(emissions[:, b : b + 1], tags, mask[:, b : b + 1])
        assert float(one) == pytest.approx(float(paths[5 % len(paths)][1]), abs=1e-10)
    # probabilities of all paths of a sentence sum to one
    assert float(torch.logsumexp(scores - log_z[2], 0)) == pytest.approx(0.0, abs=1e-10)


def test_crf_gradient_is_the_analytic_one():
    crf = CRF(2).double()
    emissions = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    tags = torch.tensor([[0, 1], [1, 1], [0, 0]])
    mask = torch.tensor([[True, True], [True, True], [True, False]])
    assert torch.autograd.gradcheck(lambda e: crf.log_likelihood(e, tags, mask), (emissions,))


def _random_tags(rng, prefixes, n):
    tags = ["O"] + [f"{p}-{k}" for p in prefixes for k in ("PER", "LOC", "ORG")]
    return [[rng.choice(tags) for _ in range(rng.randint(1, 9))] for _ in range(n)]


@pytest.mark.parametrize("prefixes", ["BI", "BIES"])
def test_entity_scores_agree_with_seqeval_on_random_and_ill_formed_tags(prefixes):
    rng = random.Random(len(prefixes))
    for _ in range(200):
        gold = _random_tags(rng, prefixes, 6)
        noise = _random_tags(rng, prefixes, 1)[0] * 9
        pred = [[noise[i] if rng.random() < 0.3 else t for i, t in enumerate(g)] for g in gold]  # mostly right
        ours = entity_scores(gold, pred)
        assert ours["precision"] == pytest.approx(precision_score(gold, pred))
        assert ours["recall"] == pytest.approx(recall_score(gold, pred))
        assert ours["f1"] == pytest.approx(f1_score(gold, pred))


def test_entities_of_bio_and_bioes_and_well_formed_bioes_agrees_with_strict_seqeval():
    assert entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "B-LOC"]) == [
        ("PER", 0, 1),
        ("LOC", 3, 3),
        ("LOC", 4, 4),
        ("LOC", 5, 5),
    ]
    assert entities(["S-PER", "B-ORG", "I-ORG", "E-ORG", "I-ORG"]) == [("PER", 0, 0), ("ORG", 1, 3), ("ORG", 4, 4)]
    rng = random.Random(7)
    gold = [to_bioes(s) for s in _well_formed(rng, 40)]
    pred = [to_bioes(s) for s in _well_formed(rng, 40)]
    pred = [(p + ["O"] * 20)[: len(g)] for p, g in zip(pred, gold)]
    pred = [to_bioes(to_bio(p)) for p in pred]  # cutting may leave a B- unclosed: make it well formed again
    assert entity_scores(gold, pred)["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOBES))


def _well_formed(rng, n):
    out = []
    for _ in range(n):
        tags = []
        while len(tags) < 8:
            if rng.random() < 0.5:
                tags.append("O")
            else:
                kind, span = rng.choice(["PER", "LOC"]), rng.randint(1, 3)
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (span - 1)
        out.append(tags)
    return out


def test_bio_to_bioes_and_back():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "I-ORG"]
    bioes = to_bioes(bio)
    assert bioes == ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "O", "S-ORG"]
    assert to_bio(bioes) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG"]
    assert entities(bio) == entities(bioes)


def test_conll_reading_columns_and_bad_lines():
    text = "-DOCSTART- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n\n\nPeter NNP B-PER\nBlackburn NNP I-PER\n"
    sentences = parse_conll(text)
    assert [s.tokens for s in sentences] == [("EU", "rejects"), ("Peter", "Blackburn")]
    assert sentences[1].tags == ("B-PER", "I-PER")
    assert parse_conll(text, column=0)[0].tags == ("NNP", "VBZ")
    with pytest.raises(DataError, match="line 3: one column"):
        parse_conll("a O\n\nlonely\n")
    with pytest.raises(DataError, match="--tag-column is 4"):
        parse_conll("a B O\n", column=4)
    with pytest.raises(DataError, match="no tagged sentences"):
        parse_conll("\n-DOCSTART- O\n\n")


def test_schemes_are_detected_and_checked():
    assert detect_scheme({"O", "B-PER", "I-PER"}) == "bio"
    assert detect_scheme({"O", "S-PER", "B-LOC", "E-LOC"}) == "bioes"
    assert detect_scheme({"NN", "VB", "DT"}) == "none"
    assert check_scheme({"O", "B-PER"}, "auto") == "bio"
    with pytest.raises(DataError, match="do not fit the bio scheme"):
        check_scheme({"O", "S-PER"}, "bio")
    with pytest.raises(DataError, match="expected one of auto, bio, bioes, none, got 'iob3'"):
        check_scheme({"O"}, "iob3")


def _batch(sentences, tags=None):
    words = {w for s in sentences for w in s}
    index = {w: i + 2 for i, w in enumerate(sorted(words))}
    T = max(map(len, sentences))
    ids = torch.zeros(T, len(sentences), dtype=torch.int64)
    for b, s in enumerate(sentences):
        ids[: len(s), b] = torch.tensor([index[w] for w in s])
    lengths = torch.tensor([len(s) for s in sentences])
    distinct = list(dict.fromkeys(w for s in sentences for w in s))
    row = {w: i for i, w in enumerate(distinct)}
    chars = torch.zeros(max(map(len, distinct)), len(distinct), dtype=torch.int64)
    for i, w in enumerate(distinct):
        chars[: len(w), i] = torch.tensor([ord(c) % 30 + 2 for c in w])
    word_index = torch.zeros_like(ids)
    for b, s in enumerate(sentences):
        word_index[: len(s), b] = torch.tensor([row[w] for w in s])
    mask = torch.arange(T).unsqueeze(1) < lengths
    return {
        "words": ids,
        "lengths": lengths,
        "mask": mask,
        "chars": chars,
        "char_lengths": torch.tensor([len(w) for w in distinct]),
        "word_index": word_index,
    }


@pytest.mark.parametrize("crf", [True, False])
def test_a_sentence_is_tagged_the_same_alone_and_padded_in_a_batch(crf):
    cfg = TaggerConfig(
        vocab_size=20,
        num_chars=32,
        num_tags=4,
        hidden_size=6,
        embedding_size=5,
        char_embedding_size=3,
        char_hidden_size=4,
        crf=crf,
    )
    model = Tagger(cfg).eval()
    alone = model.emissions(_batch([["ab", "cd"]]))
    both = model.emissions(_batch([["ab", "cd"], ["ef", "ab", "gh", "cd"]]))
    assert torch.allclose(alone[:, 0], both[:2, 0], atol=1e-6)
    tags = torch.tensor([[1, 2], [3, 0], [0, 1], [0, 2]])
    batch = {**_batch([["ab", "cd"], ["ef", "ab", "gh", "cd"]]), "tags": tags}
    loss = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and model.emit.weight.grad.abs().sum() > 0
    assert [len(p) for p in model.predict(batch)] == [2, 4]
