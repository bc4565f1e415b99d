"""Parallel data: tables and line-aligned files, data specs, named sets, held-out splits, cutting, addition."""

import sys
import types

import pytest

from rnnlab.data.addition import make_addition
from rnnlab.data.corpora import DataError
from rnnlab.data.parallel import (
    PARALLEL,
    cut_to_length,
    load_parallel,
    read_pairs,
    read_pairs_files,
    read_pairs_table,
    split_pairs,
)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_table_reads_named_columns_and_names_what_is_wrong(tmp_path):
    tsv = _write(tmp_path / "p.tsv", "id\tsource\ttarget\n1\tHello .\tHola .\n\n2\t Good night\tBuenas noches \n")
    assert read_pairs_table(tsv) == [("Hello .", "Hola ."), ("Good night", "Buenas noches")]
    csv = _write(tmp_path / "p.csv", 'en,es\n"Yes, sir",Sí\n')
    assert read_pairs_table(csv, "en", "es") == [("Yes, sir", "Sí")]
    with pytest.raises(DataError, match=r"no column 'source' or 'target' \(its header: en, es\); .*--source-column"):
        read_pairs_table(csv)
    with pytest.raises(DataError, match="--target-column") as caught:
        read_pairs_table(csv, "en")
    assert "\n" not in str(caught.value) and "no column 'target'" in str(caught.value)
    with pytest.raises(DataError, match=r"p2.tsv line 3: empty 'target' text"):
        read_pairs_table(_write(tmp_path / "p2.tsv", "source\ttarget\na\tb\nc\t \n"))
    with pytest.raises(DataError, match=r"line 2: empty 'source' text"):
        read_pairs_table(_write(tmp_path / "p3.csv", "source,target\n,b\n"))
    with pytest.raises(DataError, match="no pairs"):
        read_pairs_table(_write(tmp_path / "p4.tsv", "source\ttarget\n"))
    with pytest.raises(DataError, match=r"no such file \(or a name: bible-en-es, dates, addition\)"):
        read_pairs_table(tmp_path / "missing.tsv")


def test_two_line_aligned_files_and_their_errors(tmp_path):
    en = _write(tmp_path / "a.en", "Hello .\nGood night\n\n")  # blank lines at the end are passed over
    es = _write(tmp_path / "a.es", "Hola .\n Buenas noches\n")
    assert read_pairs_files(en, es) == [("Hello .", "Hola ."), ("Good night", "Buenas noches")]
    assert read_pairs(f"{en},{es}") == read_pairs_files(en, es)
    longer = _write(tmp_path / "b.es", "uno\ndos\ntres\n")
    with pytest.raises(DataError, match=r"a\.en has 2 lines but .*b\.es has 3; .*line-aligned"):
        read_pairs_files(en, longer)
    hole = _write(tmp_path / "c.es", "uno\n \ndos\n")
    with pytest.raises(DataError, match=r"c\.es line 2: empty line"):
        read_pairs_files(_write(tmp_path / "c.en", "one\ntwo\nthree\n"), hole)
    with pytest.raises(DataError, match=r"e\.en is empty"):
        read_pairs_files(_write(tmp_path / "e.en", "\n\n"), es)
    with pytest.raises(DataError, match=r"expected SOURCE,TARGET"):
        read_pairs(f"{en},{es},{es}")
    with pytest.raises(DataError, match=r"x\.es: no such file"):
        read_pairs(f"{en},{tmp_path / 'x.es'}")


def _pairs(n, repeat=()):
    pairs = [(f"s{i}", f"t{i}") for i in range(n)]
    return pairs + [(f"s{i}", f"u{i}") for i in repeat]  # the same source again, another target


def test_a_file_is_split_with_the_seed_and_no_source_in_two_splits(tmp_path):
    pairs = _pairs(200, repeat=range(0, 200, 5))
    path = _write(tmp_path / "all.tsv", "source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in pairs))
    one = load_parallel(str(path), seed=3)
    assert one == load_parallel(str(path), seed=3)
    assert one != load_parallel(str(path), seed=4)
    assert sorted(p for split in one.values() for p in split) == sorted(pairs)
    sources = {name: {s for s, _ in split} for name, split in one.items()}
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["valid"]
    assert not sources["valid"] & sources["test"]
    assert all(22 <= len(one[name]) <= 26 for name in ("valid", "test"))  # 10% of 240, by whole sources
    assert one["train"] == [p for p in pairs if p in one["train"]]  # file order kept


def test_held_out_files_replace_the_split(tmp_path):
    train = _write(tmp_path / "t.tsv", "source\ttarget\n" + "".join(f"s{i}\tt{i}\n" for i in range(50)))
    test = _write(tmp_path / "test.tsv", "source\ttarget\nq\tr\n")
    got = load_parallel(str(train), 0, test_data=str(test), val_fraction=0.2)
    assert got["test"] == [("q", "r")] and len(got["valid"]) == 10 and len(got["train"]) == 40
    both = load_parallel(str(train), 0, val_data=str(test), test_data=str(test))
    assert len(both["train"]) == 50 and both["valid"] == both["test"] == [("q", "r")]
    with pytest.raises(DataError, match="2 distinct source text.s. cannot give training and 2 held-out"):
        split_pairs([("a", "b"), ("a", "c"), ("d", "e")], {"valid": 0.1, "test": 0.1}, 0)
    with pytest.raises(ValueError, match="test fraction"):
        split_pairs(_pairs(10), {"test": 0.5}, 0)


def test_a_named_set_is_read_from_the_registry_and_its_loader_imported_only_when_asked(monkeypatch):
    splits = {"train": [("In the beginning", "En el principio")], "valid": [("a", "b")], "test": [("c", "d")]}
    bible = types.ModuleType("rnnlab.data.bible")
    bible.load_bible_en_es = lambda: splits
    monkeypatch.setitem(sys.modules, "rnnlab.data.bible", bible)
    assert load_parallel("bible-en-es", seed=0) == splits
    assert set(PARALLEL) == {"bible-en-es", "dates", "addition"}


def test_addition_is_right_seeded_distinct_and_disjoint():
    splits = load_parallel("addition", seed=5)  # the named set: fixed, whatever the run's seed
    assert {k: len(v) for k, v in splits.items()} == {"train": 45_000, "valid": 5_000, "test": 5_000}
    assert splits == load_parallel("addition", seed=6)
    questions = [tuple(sorted(map(int, q.split("+")))) for split in splits.values() for q, _ in split]
    assert len(set(questions)) == len(questions)  # not even b+a after a+b
    for q, a in splits["test"]:
        x, y = q.split("+")
        assert int(a) == int(x) + int(y) and len(x) <= 3 and len(y) <= 3 and str(int(x)) == x

    # every split is a random share of one pool: short sums (few and often drawn) are in each alike
    def short(split):
        return sum(max(map(len, q.split("+"))) <= 2 for q, _ in splits[split]) / len(splits[split])

    assert abs(short("train") - short("test")) < 0.02 and abs(short("train") - short("valid")) < 0.02
    small = {"test": 50, "valid": 50, "train": 200}
    one = make_addition(1, digits=2, sizes=small)
    assert one == make_addition(1, digits=2, sizes=small) and one != make_addition(2, digits=2, sizes=small)
    backwards = make_addition(1, digits=2, reverse=True, sizes=small)
    assert [(q[::-1], a) for q, a in backwards["train"]] == one["train"]
    with pytest.raises(DataError, match="1 digit.s. give only 55 distinct"):
        make_addition(0, digits=1, sizes={"test": 30})


def test_cutting_to_a_length_counts_what_was_cut():
    cut, n = cut_to_length([[4, 5, 6, 7], [4], [8, 9, 10]], 3)
    assert cut == [[4, 5, 6], [4], [8, 9, 10]] and n == 1
    assert cut_to_length([[4, 5, 6, 7]], 0) == ([[4, 5, 6, 7]], 0)
    with pytest.raises(ValueError, match="max_length"):
        cut_to_length([[4]], -1)


def test_one_column_named_for_both_source_and_target_is_refused(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tfr\nHello .\tBonjour .\n")
    with pytest.raises(DataError, match=r"--source-column and --target-column name the same column 'en'"):
        read_pairs_table(tsv, "en", "en")
