"""``benchmarks/gemm_floor.py``: the floor it times and the rows it prints, on a tiny shape."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gemm_floor.py"


def test_prints_torch_nn_beside_the_floor_for_the_standard_cells():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--cells", "lstm,gru,rnn-tanh,lstm-1997", "--hidden", "8", "--batch", "2",
         "--threads", "1", "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=SCRIPT.parents[1],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[2:]}
    assert set(rows) == {"lstm", "gru", "rnn-tanh", "lstm-1997"}
    for cell in ("lstm", "gru", "rnn-tanh"):
        nn_ms, gemm_ms, bound = float(rows[cell][2]), float(rows[cell][3]), float(rows[cell][6])
        # the ratio of the unrounded times: within what the one-decimal milliseconds allow
        low, high = (nn_ms - 0.05) / (gemm_ms + 0.05), (nn_ms + 0.05) / max(gemm_ms - 0.05, 1e-9)
        assert bound > 0 and low - 0.005 <= bound <= high + 0.005
    assert rows["lstm-1997"][2] == "-" and rows["lstm-1997"][6] == "-"  # no torch.nn twin


def test_an_unknown_cell_is_one_line_not_a_traceback():
    out = subprocess.run([sys.executable, str(SCRIPT), "--cells", "lstmx"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr and "unknown lstmx" in out.stderr


@pytest.mark.parametrize("cell,gates", [("lstm", 4), ("gru", 3), ("rnn-tanh", 1)])
def test_the_floor_runs_the_gemms_of_the_standard_cells(cell, gates):
    spec = importlib.util.spec_from_file_location("gemm_floor", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.GATES[cell] == gates
    bench.gemms(3, 2, 4, 5, cell)()  # runs the products of one forward+backward without error
