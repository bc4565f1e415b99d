"""The cell x depth grid of Karpathy, Johnson & Fei-Fei (2015, "Visualizing and understanding
recurrent networks", Table 1) at the scale of one small CPU.

RNN (tanh), LSTM and GRU with 1, 2 and 3 layers, each sized to about the same number of parameters
(``--params``), read one-hot characters (as in the paper) and train with the same optimiser for the
same CPU time (``--budget``, counted by ``--clock cpu``: the process's own CPU seconds, so runs that
share the machine get the same amount of work). The corpus's last 5% is the test split, the 5%
before it the validation split. The table gives the best weights' test loss (nats per character,
every character of the test split read as one stream), next to an interpolated Kneser-Ney character
n-gram fitted on the same training split, its order chosen on the validation split.

    .venv/bin/python benchmarks/karpathy_grid.py --corpora shakespeare,linux --out runs/grid

Runs already finished in ``--out`` are kept (the script resumes where it stopped); ``--jobs`` runs
that many trainings at once, each on one thread. Writes ``OUT/grid.json``, prints a Markdown table
and draws ``OUT/grid.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnnlab.data.stream import load_splits  # noqa: E402
from rnnlab.data.vocab import CharVocab  # noqa: E402
from rnnlab.models.language_model import LanguageModel, ModelConfig, count_parameters  # noqa: E402

VAL, TEST = 0.05, 0.05
CELL_NAMES = {"rnn-tanh": "RNN", "lstm": "LSTM", "gru": "GRU"}


def size_for(cell: str, layers: int, vocab: int, target: int) -> tuple[int, int]:
    """The hidden size whose model (one-hot input) has the parameter count nearest ``target``."""

    def count(h: int) -> int:
        cfg = ModelConfig(cell=cell, hidden_size=h, num_layers=layers, embedding_size=0, vocab_size=vocab)
        return count_parameters(LanguageModel(cfg))

    low, high = 2, 256  # hidden sizes 4 * low .. 4 * high; the count grows with the size
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(4 * middle) < target else (low, middle)
    best = min((4 * low, 4 * high), key=lambda h: abs(count(h) - target))
    return best, count(best)


def train(spec: dict, args: argparse.Namespace) -> dict:
    """Train one grid cell (unless its run already finished) and return its results."""
    out = Path(args.out) / spec["name"]
    results = out / "results.json"
    if not results.exists():
        argv = [sys.executable, "-m", "rnnlab", "train", "--data", spec["corpus"], "--out", str(out), "--force"]
        argv += ["--cell", spec["cell"], "--num-layers", str(spec["layers"]), "--hidden-size", str(spec["hidden"])]
        argv += ["--embedding-size", "0", "--val-fraction", str(VAL), "--test-fraction", str(TEST)]
        argv += ["--time-budget", args.budget, "--clock", "cpu", "--threads", "1", "--eval-every", "500"]
        argv += ["--sample-chars", "300", "--seed", str(args.seed)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        (Path(args.out) / f"{spec['name']}.log").write_text(done.stdout + done.stderr)
        print(f"{spec['name']}: exit {done.returncode} after {time.monotonic() - started:.0f} s", flush=True)
        if not results.exists():
            return {**spec, "error": (done.stderr.strip().splitlines() or ["no results"])[-1]}
    found = json.loads(results.read_text())
    return {**spec, **{k: found.get(k) for k in ("steps", "seconds", "test_loss", "val_loss", "stopped")}}


def baseline(corpus: str, orders: range) -> dict:
    """The Kneser-Ney character n-gram on the same split, its order chosen on validation."""
    from rnnlab.ngram import ngram_baseline

    splits = load_splits(corpus, VAL, TEST)
    return ngram_baseline(splits["train"], splits["valid"], splits["test"], orders)


def table(rows: list[dict], baselines: dict) -> str:
    lines = [
        "| corpus | cell | layers | hidden | parameters | steps | test loss (nats/char) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        loss = f"{r['test_loss']:.3f}" if r.get("test_loss") is not None else r.get("error", r.get("stopped"))
        lines.append(
            f"| {r['corpus']} | {CELL_NAMES[r['cell']]} | {r['layers']} | {r['hidden']} | {r['parameters']:,} | "
            f"{r.get('steps') or '-'} | {loss} |"
        )
    for corpus, b in baselines.items():
        lines.append(f"| {corpus} | {b['order']}-gram (Kneser-Ney) | | | | | {b['test_loss']:.3f} |")
    return "\n".join(lines)


def figure(rows: list[dict], baselines: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = sorted({r["corpus"] for r in rows}, key=[r["corpus"] for r in rows].index)
    fig, axes = plt.subplots(1, len(corpora), figsize=(5 * len(corpora), 3.8), squeeze=False)
    for ax, corpus in zip(axes[0], corpora):
        for cell, name in CELL_NAMES.items():
            got = [r for r in rows if r["corpus"] == corpus and r["cell"] == cell and r.get("test_loss") is not None]
            ax.plot([r["layers"] for r in got], [r["test_loss"] for r in got], "o-", label=name)
        if corpus in baselines:
            b = baselines[corpus]
            ax.axhline(b["test_loss"], color="grey", linestyle="--", label=f"{b['order']}-gram KN")
        ax.set(title=corpus, xlabel="layers", ylabel="test loss (nats/char)", xticks=[1, 2, 3])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpora", default="shakespeare,linux")
    p.add_argument("--cells", default="rnn-tanh,lstm,gru")
    p.add_argument("--layers", default="1,2,3")
    p.add_argument("--params", type=int, default=200_000, help="parameters of every model (about)")
    p.add_argument("--budget", default="4m", help="CPU time of each training")
    p.add_argument("--jobs", type=int, default=2, help="trainings at once (one thread each)")
    p.add_argument("--orders", default="1-10", help="n-gram orders tried (on validation)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out", default="runs/grid")
    p.add_argument("--no-train", action="store_true", help="only gather finished runs and the baselines")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    specs = []
    for corpus in args.corpora.split(","):
        vocab = len(CharVocab.from_text("".join(load_splits(corpus, VAL, TEST).values())))
        for cell in args.cells.split(","):
            for layers in map(int, args.layers.split(",")):
                hidden, params = size_for(cell, layers, vocab, args.params)
                name = f"{corpus.replace(':', '-')}-{cell}-{layers}x{hidden}"
                specs.append({"name": name, "corpus": corpus, "cell": cell, "layers": layers, "hidden": hidden,
                              "parameters": params, "vocabulary": vocab})  # fmt: skip
    if args.no_train:
        rows = [train(s, args) if (Path(args.out) / s["name"] / "results.json").exists() else s for s in specs]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda s: train(s, args), specs))
    low, high = map(int, args.orders.split("-"))
    baselines = {}
    for corpus in args.corpora.split(","):
        started = time.monotonic()
        baselines[corpus] = baseline(corpus, range(low, high + 1))
        print(f"{corpus}: n-gram baseline in {time.monotonic() - started:.0f} s", flush=True)
    (Path(args.out) / "grid.json").write_text(json.dumps({"runs": rows, "baselines": baselines}, indent=2))
    print(table(rows, baselines))
    figure(rows, baselines, Path(args.out) / "grid.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
