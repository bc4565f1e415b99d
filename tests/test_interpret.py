"""Per-character features and the ranking of units by how well they track them."""

import itertools

import pytest
import torch

from rnnlab.interpret.features import all_features, line_features, python_scan, quote_features
from rnnlab.interpret.ranking import correlations, rank_units, threshold_accuracy


def _bits(values) -> str:
    return "".join(str(int(v)) for v in values.tolist())


def test_python_scan_marks_strings_comments_and_brackets():
    text = "s = \"a#b\"  # c\nx = f('q\\'z', [1])\n"
    f = python_scan(text)
    assert _bits(f["inside a string"]) == "0000" + "11111" + "000000" + "000000" + "111111" + "0000000"
    assert _bits(f["inside a comment"]) == "0000" + "00000" + "001110" + "000000" + "000000" + "0000000"
    assert _bits(f["bracket depth"]) == "0" * 15 + "00000" + "1" * 9 + "22" + "100"


def test_triple_quoted_strings_span_lines():
    f = python_scan('a = """x\n#y"""\nb')
    assert _bits(f["inside a string"]) == "0000" + "1111" + "111111" + "00"
    assert f["inside a comment"].sum() == 0  # a '#' inside a string is no comment


def test_line_features_count_columns_indentation_and_speakers():
    f = line_features("Hippolyta:\n  Four days\n")
    assert f["position in line"].tolist() == [*range(1, 11), 0, *range(1, 12), 0]
    assert f["indentation"].tolist() == [0] * 11 + [2] * 12
    assert f["speaker line"].tolist() == [1] * 11 + [0] * 12


def test_quotation_marks_include_both_marks():
    assert _bits(quote_features('a "bc" d')["inside quotation marks"]) == "00111100"


def test_every_feature_has_one_value_per_character():
    text = "def f():\n    return 'x'  # y\n"
    assert all(v.shape == (len(text),) for v in all_features(text).values())


def test_threshold_accuracy_equals_brute_force():
    torch.manual_seed(0)
    acts = torch.randint(0, 5, (40, 6)).double()  # many ties
    labels = (torch.rand(40) < 0.4).double()
    acc, thr, sign = threshold_accuracy(acts, labels)
    for u in range(acts.shape[1]):
        cuts = sorted(set(acts[:, u].tolist()))
        cuts = [cuts[0] - 1, *[(a + b) / 2 for a, b in itertools.pairwise(cuts)], cuts[-1] + 1]
        best = max(float(((acts[:, u] > c).double() == labels).double().mean()) for c in cuts)
        best = max(best, max(float(((acts[:, u] < c).double() == labels).double().mean()) for c in cuts))
        assert float(acc[u]) == pytest.approx(best)
        rule = acts[:, u] > thr[u] if sign[u] > 0 else acts[:, u] < thr[u]
        assert float((rule.double() == labels).double().mean()) == pytest.approx(float(acc[u]))


def test_rank_units_finds_the_unit_that_tracks_a_feature():
    torch.manual_seed(0)
    feature = (torch.rand(500) < 0.3).double()
    acts = torch.randn(500, 8)
    acts[:, 5] = -2 * feature + 0.1 * torch.randn(500)  # tracks it, with the opposite sign
    count = torch.arange(500.0) % 17
    acts[:, 2] = count + 0.5 * torch.randn(500)
    names = [f"unit {i}" for i in range(8)]
    ranking = rank_units(acts, {"flag": feature, "count": count}, names, top=3)
    assert ranking["flag"][0]["index"] == 5 and ranking["flag"][0]["accuracy"] == 1.0
    assert ranking["flag"][0]["rule"] == "<" and ranking["flag"][0]["correlation"] < -0.9
    assert ranking["count"][0]["index"] == 2 and ranking["count"][0]["correlation"] > 0.9
    assert len(ranking["flag"]) == 3


def test_a_constant_unit_has_zero_correlation():
    acts = torch.stack([torch.ones(10), torch.arange(10.0)], dim=1)
    r = correlations(acts, torch.arange(10.0))
    assert r.tolist() == pytest.approx([0.0, 1.0])


def test_a_feature_that_never_changes_ranks_no_unit():
    assert rank_units(torch.randn(6, 3), {"flat": torch.zeros(6)}, ["a", "b", "c"]) == {"flat": []}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_collect_reads_every_layer_and_matches_the_model(cell):
    from rnnlab.data.vocab import CharVocab
    from rnnlab.interpret.activations import collect
    from rnnlab.models.language_model import LanguageModel, ModelConfig

    vocab = CharVocab.from_text("abc d\n")
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=6, num_layers=2, embedding_size=4))
    text = "ab\ncdz a"  # 'z' is outside the vocabulary
    acts = collect(model, vocab, text)
    extra = ["c", "gate i", "gate f", "gate o"] if cell == "lstm" else ["gate r", "gate z"]
    expected = {f"layer {k} {name}" for k in (1, 2) for name in ["h", *extra]}
    assert set(acts.states) == expected and all(v.shape == (len(text), 6) for v in acts.states.values())
    assert acts.known.tolist() == [c != "z" for c in text]
    safe = vocab.encode(text.replace("z", vocab.chars[0])).unsqueeze(1)
    with torch.no_grad():
        logits, _ = model(safe)
    torch.testing.assert_close(acts.probs, torch.softmax(logits[:, 0], -1), rtol=1e-5, atol=1e-6)
    matrix, names = acts.matrix()
    ranked = [k for k in expected if " gate " not in k]  # the gates are shown, not ranked
    assert matrix.shape == (len(text), 6 * len(ranked)) and names[0] == "layer 1 h 0"
    assert acts.matrix(gates=True)[0].shape == (len(text), 6 * len(expected))


def test_collect_refuses_an_empty_text():
    from rnnlab.data.vocab import CharVocab
    from rnnlab.interpret.activations import collect
    from rnnlab.models.language_model import LanguageModel, ModelConfig

    vocab = CharVocab.from_text("ab")
    with pytest.raises(ValueError, match="text: empty"):
        collect(LanguageModel(ModelConfig(vocab_size=2, hidden_size=4)), vocab, "")


def test_units_cli_prints_a_ranking_and_refuses_bad_input(tmp_path, capsys):
    import json

    from rnnlab.cli import main

    corpus = "".join(f"def f{i}(x):\n    return 'a{i}'  # c\n" for i in range(60))
    (tmp_path / "code.py").write_text(corpus)
    run = tmp_path / "run"
    train = ["train", "--data", str(tmp_path / "code.py"), "--out", str(run), "--max-steps", "4", "--time-budget", "0"]
    assert main(train + "--hidden-size 8 --embedding-size 4 --seq-len 16 --batch-size 2 --sample-chars 0".split()) == 0
    capsys.readouterr()
    assert main(["units", str(run), "--text", str(tmp_path / "code.py"), "--top", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["units"] == 16 and result["characters"] == len(corpus)  # h and c; gates are not ranked
    assert len(result["features"]["inside a string"]) == 2 and result["features"]["inside quotation marks"] == []
    assert main(["units", str(run), "--text", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnlab units: error: --text: ")


def test_gate_values_are_the_sigmoids_the_cell_computes_and_saturation_counts_them():
    from rnnlab.cells import make_cell
    from rnnlab.cells.gates import GateCapture
    from rnnlab.interpret.saturation import gate_saturation

    cell = make_cell("lstm", 3, 4)
    x, state = torch.randn(2, 3), cell.init_state(2)
    with GateCapture() as capture:
        cell(x, state)
    pre = (x @ cell.weight_ih.t() + cell.bias_ih + cell.bias_hh).chunk(4, 1)  # h = 0: no recurrent term
    torch.testing.assert_close(capture.steps[cell][0]["f"], torch.sigmoid(pre[1]))
    cell(x, state)  # outside the block nothing is kept
    assert len(capture.steps[cell]) == 1
    values = torch.tensor([[0.05, 0.5], [0.95, 0.5], [0.02, 0.99], [0.5, 0.5]])
    sat = gate_saturation({"layer 1 gate f": values, "layer 1 h": values})
    assert sat == {"layer 1 gate f": {"left": [0.5, 0.0], "right": [0.25, 0.25]}}
