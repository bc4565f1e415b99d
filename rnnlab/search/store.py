"""The search's state in one SQLite file (``search.sqlite`` in the run): every candidate spec, its
evaluations and the settings, written in transactions, so that a search killed at any moment
resumes where it stopped (no finished evaluation lost or repeated) and searches can be compared.

Tables: ``meta`` (key -> JSON: the settings), ``candidates`` (one row per distinct graph, by
hash: its number in the order of birth, generation, parent, mutation, spec, status and fitness),
``evaluations`` (one row per finished training of a candidate on a task: the metric's value, the
time it took, or the error).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

FILE = "search.sqlite"
NEW, FILTERED, DONE, FAILED = "new", "filtered", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    hash TEXT PRIMARY KEY,
    number INTEGER NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    parent TEXT,
    mutation TEXT,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    fitness REAL,
    born REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    hash TEXT NOT NULL REFERENCES candidates (hash),
    task TEXT NOT NULL,
    value REAL,
    seconds REAL NOT NULL,
    error TEXT,
    finished REAL NOT NULL,
    PRIMARY KEY (hash, task)
);
"""


class StoreError(ValueError):
    """A file that is not a search's state."""


class Store:
    """A search's SQLite file, opened (and made, with ``create``)."""

    def __init__(self, folder: Path, create: bool = False) -> None:
        self.path = Path(folder) / FILE
        if not create and not self.path.exists():
            raise StoreError(f"{folder}: no search here ({FILE} is missing)")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")  # a reader (inspect) never blocks the search
                self.db.executescript(_SCHEMA)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a search's state ({error})") from None
        if not {"meta", "candidates", "evaluations"} <= tables or (not create and self.get("config") is None):
            self.db.close()
            raise StoreError(f"{self.path}: not a search's state (no settings in it)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ settings
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # ------------------------------------------------------------------ candidates
    def has(self, spec_hash: str) -> bool:
        return self.db.execute("SELECT 1 FROM candidates WHERE hash = ?", (spec_hash,)).fetchone() is not None

    def add(self, rows: list[dict], meta: dict | None = None) -> None:
        """New candidates (``hash``, ``generation``, ``parent``, ``mutation``, ``spec``), numbered in
        order, and the settings ``meta``: all or none."""
        with self._transaction():
            for key, value in (meta or {}).items():
                self.put(key, value)
            (count,) = self.db.execute("SELECT COUNT(*) FROM candidates").fetchone()
            for k, r in enumerate(rows):
                self.db.execute(
                    "INSERT INTO candidates (hash, number, generation, parent, mutation, spec, status, born)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r["hash"], count + k, r["generation"], r.get("parent"), r.get("mutation"),
                     json.dumps(r["spec"], sort_keys=True), NEW, time.time()),
                )  # fmt: skip

    def candidates(
        self, status: str | None = None, generation: int | None = None, spec_hash: str | None = None
    ) -> list[dict]:
        """Candidates in the order of birth (of a status, of a generation, of a hash), each with its
        evaluations."""
        where, args = [], []
        if spec_hash is not None:
            where.append("hash = ?")
            args.append(spec_hash)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if generation is not None:
            where.append("generation = ?")
            args.append(generation)
        sql = "SELECT hash, number, generation, parent, mutation, spec, status, fitness FROM candidates"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY number"
        keys = ("hash", "number", "generation", "parent", "mutation", "spec", "status", "fitness")
        out = [dict(zip(keys, row)) for row in self.db.execute(sql, args).fetchall()]
        for c in out:
            c["spec"] = json.loads(c["spec"])
            c["evaluations"] = self.evaluations(c["hash"])
        return out

    def candidate(self, spec_hash: str) -> dict | None:
        """One candidate by hash, with its evaluations (``None`` if there is none)."""
        return next(iter(self.candidates(spec_hash=spec_hash)), None)

    def last_generation(self) -> int:
        """The newest generation proposed (one may have brought no new candidate), -1 before any."""
        (g,) = self.db.execute("SELECT MAX(generation) FROM candidates").fetchone()
        return max(-1 if g is None else g, self.get("generation", -1))

    def settle(self, spec_hash: str, status: str, fitness: float | None = None) -> None:
        self.db.execute("UPDATE candidates SET status = ?, fitness = ? WHERE hash = ?", (status, fitness, spec_hash))

    # ------------------------------------------------------------------ evaluations
    def record(self, spec_hash: str, task: str, result: dict) -> None:
        """A finished evaluation: ``value`` and ``seconds``, or ``error``; once only."""
        self.db.execute(
            "INSERT INTO evaluations (hash, task, value, seconds, error, finished) VALUES (?, ?, ?, ?, ?, ?)",
            (spec_hash, task, result.get("value"), result.get("seconds", 0.0), result.get("error"), time.time()),
        )

    def evaluations(self, spec_hash: str) -> dict[str, dict]:
        rows = self.db.execute(
            "SELECT task, value, seconds, error, finished FROM evaluations WHERE hash = ? ORDER BY finished",
            (spec_hash,),
        ).fetchall()
        keys = ("value", "seconds", "error", "finished")
        return {task: dict(zip(keys, rest)) for task, *rest in rows}

    def count_evaluations(self) -> int:
        (n,) = self.db.execute("SELECT COUNT(*) FROM evaluations").fetchone()
        return n

    @contextlib.contextmanager
    def _transaction(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
