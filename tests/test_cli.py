"""CLI smoke tests on tiny sizes."""

import json

import pytest

from rnnlab.cli import main


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = "bench --cells lstm,lstm-1997,irnn --hidden 8 --batch 2 --steps 5 --input 3 --repeats 2"
    assert main([*args.split(), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lstm-1997" in text and "torch.nn.LSTM" in text and "speed-up" in text
    record = json.loads(out.read_text())
    rows = {r["cell"]: r for r in record["rows"]}
    assert {c: r["path"] for c, r in rows.items()} == {"lstm": "fused", "lstm-1997": "bptt", "irnn": "fused"}
    assert rows["lstm"]["twin"] == "torch.nn.LSTM" and rows["irnn"]["twin"] == "torch.nn.RNN"
    assert rows["lstm-1997"]["twin"] is None and rows["lstm-1997"]["ratio"] is None
    for r in rows.values():
        assert r["ms"] > 0 and r["steps_ms"] > 0 and r["lstm_ms"] > 0
        assert r["speedup"] == pytest.approx(r["steps_ms"] / r["ms"])
        assert r["vs_lstm"] == pytest.approx(r["gflops"] / r["lstm_gflops"])
    # GFLOP/s come from the weight matrices: LSTM 4H(D+H) multiply-adds per sample and step
    lstm = rows["lstm"]
    assert lstm["gflops"] == pytest.approx(6 * 5 * 2 * 4 * 8 * (3 + 8) / 1e9 / (lstm["ms"] / 1e3))


def test_bench_bad_input_is_one_line(tmp_path, capsys):
    assert main(["bench", "--cells", "lstm,nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown nope" in err and "gru" in err
    assert main(["bench", "--hidden", "0"]) == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["bench", "--json", str(tmp_path / "no" / "b.json"), "--cells", "gru"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments" in err
    assert main([]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--out", "", "--time-budget", "5s"],
        ["train", "--task", "classify", "--data", "x.csv", "--out", "  "],
        ["sample", ""],
        ["agree", "runs/x", "--out", ""],
        ["tree", "runs/x", "(1 2)", "--plot", ""],
    ],
)
def test_an_empty_path_is_refused_not_taken_for_the_current_folder(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "expected a path, got an empty one" in err
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder
