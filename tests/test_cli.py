"""CLI smoke tests on tiny sizes."""

import json

from rnnlab.cli import main


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = "bench --cells lstm,lstm-1997 --hidden 8 --batch 2 --steps 5 --input 3 --repeats 2"
    assert main([*args.split(), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lstm-1997" in text and "torch.nn.LSTM" in text
    record = json.loads(out.read_text())
    rows = {(r["cell"], r["path"]) for r in record["rows"]}
    assert rows == {("lstm", "fused"), ("lstm-1997", "steps")}
    assert all(r["ratio"] > 0 and r["ms"] > 0 for r in record["rows"])


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
