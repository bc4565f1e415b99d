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
        peak_ms, peak_bound = float(rows[cell][7]), float(rows[cell][8])
        assert 0 <= peak_ms <= gemm_ms  # the arithmetic at the peak rate is never slower than the GEMMs
        assert peak_bound >= bound - 0.01
    assert rows["lstm-1997"][2] == "-" and rows["lstm-1997"][6] == "-" and rows["lstm-1997"][8] == "-"


def test_an_unknown_cell_is_one_line_not_a_traceback():
    out = subprocess.run([sys.executable, str(SCRIPT), "--cells", "lstmx"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr and "unknown lstmx" in out.stderr


@pytest.mark.parametrize("cell,gates", [("lstm", 4), ("gru", 3), ("rnn-tanh", 1)])
def test_the_floor_runs_the_gemms_of_the_standard_cells(cell, gates):
    spec = importlib.util.spec_from_file_location("gemm_floor", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.GATES[cell] == gates
    T, B, D, H = 3, 4, 6, 5
    per_block, shared, flops = bench.gemms(T, B, D, H, cell, blocks=2)
    per_block(), shared()  # the products of one forward+backward run without error
    # input side: projection, input gradient, input weight gradient; recurrent side: T products
    # forward, T backward and the weight gradient; each a multiply-add (2 flops) per element
    assert flops == 2 * T * B * gates * H * (3 * D + 3 * H)


def test_the_floor_times_one_row_block_as_the_compiled_loops_split_a_batch():
    spec = importlib.util.spec_from_file_location("gemm_floor", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seen = []
    real = bench.Matmul

    class Spy(real):
        def __call__(self, a):
            seen.append(a.shape[0])
            return super().__call__(a)

    bench.Matmul = Spy
    try:
        per_block, _, _ = bench.gemms(2, 32, 4, 5, "lstm", blocks=2)
        per_block()
    finally:
        bench.Matmul = real
    assert seen == [16] * 4  # 2 steps forward, 2 backward, each on 16 of the 32 rows
