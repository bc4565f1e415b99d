"""What a search shows: the leaderboard (``leaderboard.json`` and a table), the best cells as spec
files ready for ``--cell graph:PATH``, and the figure of fitness against evaluations."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rnnlab.fileio import atomic_write_bytes, atomic_write_json
from rnnlab.search.driver import relative
from rnnlab.search.store import DONE, FAILED, FILTERED, NEW, Store

LEADERBOARD = "leaderboard.json"
FIGURE = "fitness.png"
BEST = "best"  # folder of the best cells' spec files
SHOWN = 20  # candidates on the leaderboard
WRITTEN = 5  # best cells written as spec files


def leaderboard(store: Store, directions: dict[str, bool]) -> dict:
    """The search's standing: settings, counts, the reference's scores and the best candidates."""
    config = store.get("config")
    tasks = config["tasks"]
    everything = store.candidates()
    reference = everything[0] if everything else None
    ref = reference["evaluations"] if reference else {}
    done = sorted((c for c in everything if c["status"] == DONE), key=lambda c: (-c["fitness"], c["number"]))
    seconds = sum(r["seconds"] or 0.0 for c in everything for r in c["evaluations"].values())
    count = {s: sum(c["status"] == s for c in everything) for s in (DONE, FILTERED, FAILED, NEW)}
    rows = []
    for rank, c in enumerate(done[:SHOWN], 1):
        ev = c["evaluations"]
        scores = {
            t: {"value": _finite(ev[t]["value"]), "relative": relative(ev[t]["value"], ref[t]["value"], directions[t])}
            for t in tasks
        }
        rows.append(
            {"rank": rank, "hash": c["hash"], "number": c["number"], "generation": c["generation"],
             "fitness": c["fitness"], "scores": scores, "parent": c["parent"], "mutation": c["mutation"],
             "nodes": len(c["spec"]["nodes"]), "spec": c["spec"]}
        )  # fmt: skip
    return {
        "config": config,
        "tasks": tasks,
        "reference": {"name": "gru", "hash": reference["hash"] if reference else None,
                      "scores": {t: _finite(ref.get(t, {}).get("value")) for t in tasks}},
        "candidates": len(everything),
        "evaluations": store.count_evaluations(),
        "duplicates_skipped": store.get("duplicates", 0),
        "status": count,
        "evaluation_seconds": seconds,
        "leaders": rows,
    }  # fmt: skip


def _finite(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def write_reports(out: Path, store: Store, directions: dict[str, bool]) -> dict:
    """``leaderboard.json``, ``best/NN-HASH.json`` (the best cells' specs) and ``fitness.png``."""
    board = leaderboard(store, directions)
    atomic_write_json(out / LEADERBOARD, board)
    best = out / BEST
    best.mkdir(exist_ok=True)
    for old in best.glob("*.json"):
        old.unlink()
    for row in board["leaders"][:WRITTEN]:
        spec = {"name": f"search-{row['hash']}", **row["spec"]}
        atomic_write_bytes(best / f"{row['rank']:02d}-{row['hash']}.json", (json.dumps(spec, indent=1) + "\n").encode())
    from rnnlab.viz.search import plot_fitness

    plot_fitness(_history(store), out / FIGURE, board["config"]["tasks"])
    return board


def _history(store: Store) -> list[tuple[int, float | None, str]]:
    """``(evaluations so far when settled, fitness, status)`` of each settled candidate, in the
    order their last evaluation finished."""
    everything, settled = store.candidates(), []
    for c in everything:
        if c["status"] == NEW or not c["evaluations"]:
            continue
        settled.append((max(r["finished"] for r in c["evaluations"].values()), c["fitness"], c["status"]))
    settled.sort()
    finished = sorted(r["finished"] for c in everything for r in c["evaluations"].values())
    out, k = [], 0
    for when, fitness, status in settled:
        while k < len(finished) and finished[k] <= when:
            k += 1
        out.append((k, fitness, status))
    return out


def format_board(board: dict) -> str:
    """The leaderboard as a table (what ``rnnlab inspect`` prints for a search)."""
    tasks = board["tasks"]
    counts = board["status"]
    hours = board["evaluation_seconds"] / 3600
    head = [
        f"search: {board['candidates']} candidates ({counts['done']} evaluated, {counts['filtered']} filtered, "
        f"{counts['failed']} failed, {counts['new']} waiting), {board['evaluations']} evaluations "
        f"({hours:.2f} worker-hours), {board['duplicates_skipped']} duplicates skipped",
        "reference gru: " + ", ".join(f"{t} {_fmt(board['reference']['scores'][t])}" for t in tasks),
        "",
        f"{'rank':>4} {'hash':<16} {'gen':>4} {'fitness':>8} " + " ".join(f"{t:>14}" for t in tasks) + "  mutation",
    ]
    for r in board["leaders"]:
        cells = " ".join(f"{_fmt(r['scores'][t]['value']):>7} ({r['scores'][t]['relative']:.2f})" for t in tasks)
        head.append(
            f"{r['rank']:>4} {r['hash']:<16} {r['generation']:>4} {r['fitness']:>8.3f} {cells}  {r['mutation']}"
        )
    return "\n".join(head)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


__all__ = ["format_board", "leaderboard", "write_reports"]
