"""Text classification: pooling, labelled files and splits, scores, the baseline, vocabularies."""

import pytest
import torch

from rnnlab.baseline import tfidf_baseline
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import Example, check_labels, read_table, stratified_split
from rnnlab.data.tokens import PAD, UNK, Labels, TokenVocab, normalise
from rnnlab.metrics import class_scores, confusion_matrix
from rnnlab.models.classifier import ClassifierConfig, TextClassifier, pool


def test_pooling_reads_only_the_valid_steps():
    outputs = torch.tensor(
        [[[1.0, -1.0], [5.0, 0.0]], [[3.0, -4.0], [0.0, 0.0]], [[2.0, -2.0], [0.0, 0.0]]]
    )  # (3, 2, 2)
    lengths = torch.tensor([3, 1])
    assert torch.equal(pool(outputs, lengths, "max", 1), torch.tensor([[3.0, -1.0], [5.0, 0.0]]))
    assert torch.allclose(pool(outputs, lengths, "mean", 1), torch.tensor([[2.0, -7 / 3], [5.0, 0.0]]))
    assert torch.equal(pool(outputs, lengths, "last", 1), torch.tensor([[2.0, -2.0], [5.0, 0.0]]))
    # two directions of one unit each: forward at the last valid step, backward at the first
    assert torch.equal(pool(outputs, lengths, "last", 2), torch.tensor([[2.0, -1.0], [5.0, 0.0]]))


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_text_is_classified_the_same_alone_and_padded_in_a_batch(pooling, bidirectional):
    cfg = ClassifierConfig(
        vocab_size=12, num_classes=3, hidden_size=5, embedding_size=4, pooling=pooling, bidirectional=bidirectional
    )
    model = TextClassifier(cfg).eval()
    short = torch.tensor([[2], [3]])  # (T=2, B=1)
    batch = torch.tensor([[2, 4], [3, 5], [0, 6], [0, 7]])  # the same text padded, next to a longer one
    alone = model(short, torch.tensor([2]))
    together = model(batch, torch.tensor([2, 4]))
    assert torch.allclose(alone[0], together[0], atol=1e-6)
    assert not torch.allclose(together[0], together[1])


def test_last_state_pooling_is_the_recurrent_state_after_the_last_token():
    cfg = ClassifierConfig(
        vocab_size=9, num_classes=2, hidden_size=3, embedding_size=3, pooling="last", bidirectional=False, dropout=0.0
    )
    model = TextClassifier(cfg).eval()
    ids = torch.tensor([[2], [3], [4]])
    out, _ = model.rnn(model.embedding(ids))
    assert torch.allclose(model(ids, torch.tensor([3])), model.readout(out[-1]), atol=1e-6)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_table_with_named_columns_and_its_errors(tmp_path):
    good = _write(tmp_path / "a.csv", 'id,text,label\n1,"hello, world",pos\n2,bad day,neg\n\n')
    assert read_table(good) == [Example("pos", "hello, world"), Example("neg", "bad day")]
    tsv = _write(tmp_path / "a.tsv", "sentiment\tbody\nneg\tso so\n")
    assert read_table(tsv, "sentiment", "body") == [Example("neg", "so so")]
    with pytest.raises(DataError, match=r"no column 'label' or 'text' \(its header: sentiment, body\)"):
        read_table(tsv)
    with pytest.raises(DataError, match="line 3: empty text"):
        read_table(_write(tmp_path / "e.csv", "label,text\npos,fine\nneg,  \n"))
    with pytest.raises(DataError, match="line 2: no label"):
        read_table(_write(tmp_path / "n.csv", "label,text\n,fine\n"))
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="expected a .csv or .tsv"):
        read_table(tmp_path / "x.json")
    with pytest.raises(DataError, match="no examples"):
        read_table(_write(tmp_path / "h.csv", "label,text\n"))


def test_quotes_commas_and_extra_fields(tmp_path):
    tsv = _write(tmp_path / "q.tsv", 'label\ttext\npos\t"great film\nneg\tbad film\n')  # TSV: a quote is text
    assert read_table(tsv) == [Example("pos", '"great film'), Example("neg", "bad film")]
    with pytest.raises(DataError, match="line 2: 3 field.s., expected 2; quote texts that hold commas"):
        read_table(_write(tmp_path / "x.csv", "label,text\npos,hello, world\n"))
    with pytest.raises(DataError, match="a quote left open"):
        read_table(_write(tmp_path / "o.csv", 'label,text\npos,"open quote\nneg,bad\n'))
    assert (
        read_table(_write(tmp_path / "m.csv", 'label,text\npos,"two\nlines, quoted"\n'))[0].text == "two\nlines, quoted"
    )


def test_stratified_split_holds_out_every_label_in_proportion():
    examples = [Example("a", f"x{i}") for i in range(80)] + [Example("b", f"y{i}") for i in range(20)]
    rest, held = stratified_split(examples, 0.1, seed=1)
    assert sorted(e.label for e in held) == ["a"] * 8 + ["b"] * 2
    assert len(rest) == 90 and not set(rest) & set(held)
    assert stratified_split(examples, 0.1, seed=1) == (rest, held)
    assert stratified_split(examples, 0.1, seed=2)[1] != held
    with pytest.raises(DataError, match="'c' never appear in the training data"):
        check_labels(rest, [Example("c", "z")], "test_data")


def test_class_scores_by_hand():
    gold, pred = [0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2]
    assert confusion_matrix(gold, pred, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    s = class_scores(gold, pred, ["a", "b", "c"])
    assert s["accuracy"] == pytest.approx(4 / 6)
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]  # a: P 1 R 2/3; b: P 1/2 R 1/2; c: P 1/2 R 1
    assert s["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert s["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": f1[2], "support": 1})
    # a class neither true nor predicted in this split does not pull the macro average down (as scikit-learn)
    assert class_scores(gold, pred, ["a", "b", "c", "d"])["macro_f1"] == pytest.approx(sum(f1) / 3)


def test_vocabularies():
    vocab = TokenVocab.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.tokens == [PAD, UNK, "b", "a"]
    assert vocab.ids(["a", "zebra"]) == [3, 1]
    assert TokenVocab.build([["b", "a", "b", "c"]], max_size=3).tokens == [PAD, UNK, "b"]
    assert TokenVocab.from_json(vocab.to_json()).tokens == vocab.tokens
    assert normalise("Paris-1996", True) == "paris-0000"
    labels = Labels.build(["pos", "neg", "pos"])
    assert labels.names == ["neg", "pos"] and labels.ids(["pos"]) == [1]


def test_tfidf_baseline_learns_words_that_carry_the_label():
    train = [Example("pos", f"good film {i}") for i in range(20)] + [Example("neg", f"bad film {i}") for i in range(20)]
    splits = {
        "train": train,
        "val": [Example("pos", "good"), Example("neg", "bad")],
        "test": [Example("pos", "a good one"), Example("neg", "a bad one")],
    }
    result = tfidf_baseline(splits, ["neg", "pos"])
    assert result["test"]["accuracy"] == 1.0 and result["C"] in (0.1, 1.0, 10.0, 100.0)


class _Quiet:
    def update(self, *args, **kwargs):
        pass

    def log(self, text):
        self.last = text


@pytest.mark.parametrize("cell", sorted(__import__("rnnlab.cells", fromlist=["NAMES"]).NAMES))
def test_every_cell_classifies_and_tags_padded_batches(cell):
    from rnnlab.models.tagger import Tagger, TaggerConfig

    ids, lengths = torch.tensor([[2, 4], [3, 5], [0, 6]]), torch.tensor([2, 3])
    model = TextClassifier(ClassifierConfig(vocab_size=8, num_classes=3, hidden_size=4, embedding_size=4, cell=cell))
    model.eval()
    both = model(ids, lengths)
    assert both.shape == (2, 3) and torch.allclose(model(ids[:2, :1], lengths[:1]), both[:1], atol=1e-5)
    tagger = Tagger(
        TaggerConfig(
            vocab_size=8,
            num_chars=5,
            num_tags=3,
            hidden_size=4,
            embedding_size=4,
            cell=cell,
            char_embedding_size=3,
            char_hidden_size=4,
        )
    )
    batch = {
        "words": ids,
        "lengths": lengths,
        "mask": ids > 0,
        "chars": torch.tensor([[2, 3], [4, 0]]),
        "char_lengths": torch.tensor([2, 1]),
        "word_index": torch.tensor([[0, 1], [1, 0], [0, 1]]),
    }
    tagger.eval()
    scores = tagger.emissions(batch)
    alone = {
        "words": ids[:2, :1],
        "lengths": lengths[:1],
        "mask": ids[:2, :1] > 0,
        "chars": batch["chars"],
        "char_lengths": batch["char_lengths"],
        "word_index": batch["word_index"][:2, :1],
    }
    assert scores.shape == (3, 2, 3) and torch.allclose(tagger.emissions(alone)[:, 0], scores[:2, 0], atol=1e-5)


def test_an_open_quote_is_reported_on_the_line_where_it_opened(tmp_path):
    good = "".join(f"pos,fine {i}\n" for i in range(19))
    rest = "".join(f"neg,bad {i}\n" for i in range(280))
    with pytest.raises(DataError, match=r"line 21: a quote left open .*runs to line 301"):
        read_table(_write(tmp_path / "a.csv", f'label,text\n{good}pos,"opened here\n{rest}'))
    # closed much later, by a quote that more text follows: still the line where it opened
    closes = 'neg,"so" it goes\n'
    with pytest.raises(DataError, match=r"line 3: a quote left open .*runs to line 8"):
        read_table(_write(tmp_path / "b.csv", f'label,text\npos,"a ""fine"" one"\npos,"opens\n{rest[:40]}{closes}'))
    with pytest.raises(DataError, match="line 1: a quote left open"):  # in the header: one line, no traceback
        read_table(_write(tmp_path / "c.csv", '"label,text\npos,fine\n'))
    assert read_table(_write(tmp_path / "d.csv", 'label,text\npos,a "quote" inside\n'))[0].text == 'a "quote" inside'


def test_class_scores_of_many_classes_keep_no_square_matrix():
    from rnnlab.metrics.classes import CONFUSION_CLASSES

    n = CONFUSION_CLASSES + 1
    names = [f"c{k}" for k in range(n)]
    gold = [*range(n), *range(n), 5, 5]
    pred = [*range(n), *((k + 1) % n for k in range(n)), 7, 7]  # every class once right, once wrong; c5 -> c7 twice
    s = class_scores(gold, pred, names)
    assert "confusion" not in s and len(s["per_class"]) == n and len(s["most_confused"]) == 20
    assert s["most_confused"][:2] == [
        {"true": "c5", "predicted": "c7", "count": 2},
        {"true": "c0", "predicted": "c1", "count": 1},
    ]
    m = confusion_matrix(gold, pred, n)  # the same figures as from the whole matrix
    assert s["accuracy"] == pytest.approx(m.trace() / m.sum())
    assert s["per_class"]["c0"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert s["per_class"]["c5"]["support"] == 4 and s["per_class"]["c7"]["precision"] == pytest.approx(1 / 4)
    few = class_scores(gold[:CONFUSION_CLASSES], pred[:CONFUSION_CLASSES], names[:CONFUSION_CLASSES])
    assert few["confusion"] == torch.eye(CONFUSION_CLASSES, dtype=torch.int64).tolist()


def test_too_many_classes_for_the_rows_is_refused_with_the_reason(tmp_path):
    from rnnlab.tasks.classify import ClassifyConfig, load_splits

    def refused(rows_of_class, classes=10_000, **cfg):
        rows = "".join(f"c{k},text {r}\n" for k in range(classes) for r in range(rows_of_class(k)))
        with pytest.raises(DataError) as e:
            load_splits(ClassifyConfig(data=str(_write(tmp_path / "many.csv", "label,text\n" + rows)), **cfg), 1234)
        return str(e.value)

    message = refused(lambda k: 1 + k % 2)  # 10,000 classes of 1 or 2 rows: not "too few to split"
    assert "too many classes for the rows: 10,000 classes in 15,000 rows, a median of 1.5 row(s)" in message
    assert "each class needs at least 5 (3 to learn from, 1 for validation, 1 for test)" in message
    assert "10,000 of the classes have fewer than 5" in message and "merge or drop the rare classes" in message
    assert "median of 3 row(s)" in refused(lambda k: 3)
    test = _write(tmp_path / "test.csv", "label,text\na,x\nb,y\n")
    assert "needs at least 4 (3 to learn from, 1 for validation)" in refused(lambda k: 2, 2, test_data=str(test))
    ok = _write(tmp_path / "ok.csv", "label,text\n" + "".join(f"{'ab'[i % 2]},t {i}\n" for i in range(10)))
    assert [len(v) for v in load_splits(ClassifyConfig(data=str(ok)), 1234).values()] == [6, 2, 2]


def test_the_baseline_is_bounded_or_skipped_with_the_reason(monkeypatch):
    import rnnlab.baseline as baseline

    with pytest.raises(ValueError, match="2,001 classes: the baseline keeps a weight .* at most 2,000 classes"):
        baseline.feature_limit(2001, 10)
    with pytest.raises(ValueError, match=r"1,000 classes x 20,001 training texts"):
        baseline.feature_limit(1000, 20_001)
    assert baseline.feature_limit(2, 10) == 1_000_000
    monkeypatch.setattr(baseline, "MAX_WEIGHTS", 10)  # 5 features for 2 classes
    monkeypatch.setattr(baseline, "MIN_FEATURES", 1)
    train = [Example("pos", f"good film w{i}") for i in range(20)] + [
        Example("neg", f"bad film v{i}") for i in range(20)
    ]
    splits = {"train": train, "val": train[:2] + train[-2:], "test": train[:2] + train[-2:]}
    result = tfidf_baseline(splits, ["neg", "pos"])
    assert result["features"] == result["max_features"] == 5


def test_one_column_named_for_both_label_and_text_is_refused(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("label,text\npos,good\n")
    with pytest.raises(DataError, match=r"--label-column and --text-column name the same column 'text'"):
        read_table(table, "text", "text")


def test_the_baseline_says_before_it_fits_that_it_may_take_a_while(capsys):
    from rnnlab.baseline import baseline_results

    train = [Example("pos", f"good film w{i}") for i in range(10)]
    train += [Example("neg", f"bad film v{i}") for i in range(10)]
    splits = {"train": train, "val": train[:2] + train[-2:], "test": train[:2] + train[-2:]}
    assert "baseline" in baseline_results(splits, ["neg", "pos"])
    err = capsys.readouterr().err
    assert err.startswith("note: fitting the TF-IDF baseline on 20 texts") and "--baseline false" in err
