"""The agreement probe: its minimal pairs, its scoring, the command; and the Penn Treebank loader."""

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.words import EOS, WordVocab
from rnnlab.interpret.agreement import (
    ADVERBS,
    CLAUSE_VERBS,
    NOUNS,
    PREPOSITIONS,
    VERBS,
    accuracy_by_distance,
    distances,
    make_pairs,
)
from rnnlab.models.language_model import LanguageModel, ModelConfig

WORDS = ["the", "that", *ADVERBS, *CLAUSE_VERBS, *PREPOSITIONS, *(w for p in NOUNS + VERBS for w in p)]
VOCAB = WordVocab.from_text(" ".join(WORDS))
SINGULAR = {s for s, _ in NOUNS}
PLURAL = {p for _, p in NOUNS}


def test_pairs_have_the_asked_distance_and_the_right_verb():
    pairs = make_pairs(VOCAB, max_distance=12, per_distance=40, seed=3)
    assert distances(12) == [0, *range(3, 13)]
    assert len(pairs) == 40 * len(distances(12))
    for p in pairs:
        assert p.prefix[0] == "the" and len(p.prefix) == 2 + p.distance
        subject = p.prefix[1]
        assert (subject in PLURAL) == p.plural and (subject in SINGULAR) == (not p.plural)
        verb = next(v for v in VERBS if p.right in v and p.wrong in v)
        assert (p.right, p.wrong) == ((verb[1], verb[0]) if p.plural else verb)
        assert all(w in VOCAB.index for w in p.prefix)
    assert sum(p.plural for p in pairs) == len(pairs) // 2
    # the filler holds nouns of both numbers (attractors), a clause at 4 and 5 words, phrases of 3
    between = [w for p in pairs for w in p.prefix[2:]]
    assert SINGULAR & set(between) and PLURAL & set(between)
    by = {p.distance: p.prefix for p in pairs}
    assert by[4][2] == "that" and by[5][2] == "that" and by[5][3] in ADVERBS and by[3][2] in PREPOSITIONS
    again = make_pairs(VOCAB, max_distance=12, per_distance=40, seed=3)
    assert [(p.prefix, p.right) for p in again] == [(p.prefix, p.right) for p in pairs]  # seeded


def test_the_probe_refuses_a_vocabulary_without_its_words_and_bad_distances():
    with pytest.raises(ValueError, match="needs English words"):
        make_pairs(WordVocab.from_text("a b c"), 6, 5)
    with pytest.raises(ValueError, match="max_distance"):
        make_pairs(VOCAB, 2, 5)


def test_accuracy_counts_the_pairs_where_the_agreeing_verb_is_likelier():
    """A model that only ever predicts plural verbs is right on exactly the plural half."""
    model = LanguageModel(ModelConfig(vocab_size=len(VOCAB), hidden_size=4, embedding_size=3))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for _, plural in VERBS:
            model.readout.bias[VOCAB.index[plural]] = 2.0
    result = accuracy_by_distance(model, VOCAB, make_pairs(VOCAB, 6, 20))
    assert sorted(result) == [0, 3, 4, 5, 6]
    assert all(r["accuracy"] == 0.5 and r["pairs"] == 20 and r["margin"] == pytest.approx(0.0) for r in result.values())


class NearestNoun(torch.nn.Module):
    """A causal stand-in for a model: after a noun it prefers the verb forms of that noun's number."""

    def __init__(self) -> None:
        super().__init__()
        self.table = torch.zeros(len(VOCAB), len(VOCAB))  # (input id, next-id logits)
        for singular, plural in NOUNS:
            for s, p in VERBS:
                self.table[VOCAB.index[singular], VOCAB.index[s]] = 1.0
                self.table[VOCAB.index[plural], VOCAB.index[p]] = 1.0

    def forward(self, ids):
        return self.table[ids], None  # (T, B, V): each step sees only its own input


def test_accuracy_reads_the_prediction_at_the_verb():
    pairs = make_pairs(VOCAB, 9, 30, seed=1)
    result = accuracy_by_distance(NearestNoun(), VOCAB, pairs)
    assert result[0]["accuracy"] == 1.0 and result[0]["margin"] == pytest.approx(1.0)  # the subject is last
    for d in (3, 4, 9):  # the last word before the verb is a noun of either number
        agree = [(p.prefix[-1] in PLURAL) == p.plural for p in pairs if p.distance == d]
        assert 0 < sum(agree) < len(agree) and result[d]["accuracy"] == pytest.approx(sum(agree) / len(agree))


def test_agree_command_writes_a_table_json_and_plot(tmp_path, capsys):
    lines = [f"the {s} that ate the {p} was full\nthe {p} in the {s} were there" for s, p in NOUNS]
    extra = " ".join(WORDS)
    (tmp_path / "w.txt").write_text(("\n".join(lines) + "\n" + extra + "\n") * 5)
    argv = ["train", "--level", "word", "--data", str(tmp_path / "w.txt"), "--out", str(tmp_path / "run")]
    flags = "--hidden-size 12 --embedding-size 6 --seq-len 8 --batch-size 4 --max-steps 3 --time-budget 0"
    assert main(argv + flags.split()) == 0
    capsys.readouterr()
    out = tmp_path / "probe"
    assert main(["agree", str(tmp_path / "run"), "--max-distance", "5", "--pairs", "10", "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("distance") and [ln.split()[0] for ln in table[1:5]] == ["0", "3", "4", "5"]
    saved = json.loads((out / "agreement.json").read_text())
    [run] = saved["runs"].values()
    assert run["cell"] == "lstm" and set(run["by_distance"]) == {"0", "3", "4", "5"}
    assert (out / "agreement.png").read_bytes()[:4] == b"\x89PNG"
    chars = tmp_path / "chars"
    argv = ["train", "--data", str(tmp_path / "w.txt"), "--out", str(chars), "--max-steps", "1", "--time-budget", "0"]
    assert main(argv + "--hidden-size 8 --embedding-size 4 --seq-len 8 --batch-size 2 --sample-chars 0".split()) == 0
    capsys.readouterr()
    assert main(["agree", str(chars), "--out", str(out)]) == 2
    assert "char-level model" in capsys.readouterr().err
    assert main(["agree", str(tmp_path / "run"), str(tmp_path / "run"), "--out", str(out)]) == 2
    assert "named twice" in capsys.readouterr().err


@pytest.mark.slow  # tokenises the whole corpus
def test_the_penn_treebank_is_mikolovs_split():
    from rnnlab.data.corpora import ptb_splits

    splits = ptb_splits()
    vocab = WordVocab.from_text(splits["train"])
    assert len(vocab) == 10_000  # 9,999 words with <unk>, and <eos>
    assert [len(vocab.tokens(splits[k])) for k in ("train", "valid", "test")] == [929_589, 73_760, 82_430]
    assert vocab.unknown(vocab.tokens(splits["test"])) == []
    assert vocab.tokens(splits["valid"])[:3] == ["consumers", "may", "want"] and EOS in vocab.index
