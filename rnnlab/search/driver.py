"""The evolutionary search over cell graphs (Jozefowicz, Zaremba & Sutskever 2015), generation by
generation, with its evaluations run as tasks of a distributed engine.

Generation 0 holds the seeds (the GRU, the reference, and the LSTM), evaluated on every task. Each
later generation draws ``children`` parents at random from the ``population`` best candidates so far,
mutates each once (:func:`rnnlab.search.mutate.mutate`), skips graphs already tried (by hash), and
evaluates the children: first a short training on the first task (the filter), and only those that
reach ``filter_keep`` of the GRU's score there go on to the full trainings on every task. A
candidate's fitness is the paper's: on each task its best score relative to the GRU's (accuracy
over the GRU's accuracy; for a loss or perplexity, the GRU's over the candidate's), the minimum over
the tasks; so the GRU's fitness is 1. Everything is drawn from generators seeded by the search's
seed and the generation, and every evaluation trains for a fixed number of steps from a fixed seed,
so a search resumed from its SQLite file (:mod:`rnnlab.search.store`) proposes the candidates it
would have proposed, and skips the evaluations already finished.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rnnlab import checks
from rnnlab.cells.graph_spec import spec_hash, validate
from rnnlab.search.mutate import mutate
from rnnlab.search.store import DONE, FAILED, FILTERED, NEW, Store

FILTER = "filter"  # the evaluations row of the short first training
DUPLICATE_TRIES = 50  # draws for a child not tried before, per child
EMPTY_GENERATIONS = 5  # generations in a row without a new candidate before the search gives up


@dataclass
class SearchConfig:
    """How a search runs; saved in its SQLite file and kept on ``--resume``."""

    tasks: list[str] = field(default_factory=lambda: ["arithmetic", "xml"])
    steps: int = 1000  # training steps of a full evaluation
    filter_steps: int = 300  # training steps of the filter (on the first task)
    filter_keep: float = 0.9  # a child goes on when its filter score is at least this share of the GRU's
    population: int = 20  # the best candidates that parents are drawn from
    children: int = 4  # candidates per generation
    hidden_size: int = 128
    seed: int = 0

    def validate(self) -> None:
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            checks.fail("--tasks", "distinct task names", ",".join(self.tasks))
        for name in ("steps", "filter_steps", "population", "children", "hidden_size"):
            checks.positive_int(f"--{name.replace('_', '-')}", getattr(self, name))
        if not 0 <= self.filter_keep <= 1:
            checks.fail("--filter-keep", "a number in [0, 1]", self.filter_keep)


def relative(value: float | None, reference: float | None, higher_is_better: bool) -> float:
    """A score relative to the reference's (1 = as good; more is better); 0 for a run that failed."""
    if value is None or reference is None or not math.isfinite(value) or not math.isfinite(reference):
        return 0.0
    if higher_is_better:
        return value / reference if reference > 0 else 0.0
    return reference / value if value > 0 else 0.0


class Search:
    """A search in ``out``: made with a :class:`SearchConfig`, or resumed from its file.

    Args:
        out: the run folder (``search.sqlite`` and the reports).
        config: the settings of a new search; ``None`` to resume.
        seeds: ``{name: spec}`` of generation 0, the reference (GRU) first.
        evaluate: the function the engine runs: ``evaluate(spec, task, settings) -> {"value": ...,
            "seconds": ...}``; ``settings`` holds ``steps``, ``hidden_size`` and ``seed``.
        directions: ``{task: higher_is_better}``.
    """

    def __init__(
        self,
        out: Path,
        config: SearchConfig | None,
        seeds: dict[str, dict],
        evaluate: Callable[..., dict],
        directions: dict[str, bool],
    ) -> None:
        self.out, self.evaluate, self.directions = Path(out), evaluate, directions
        self.store = Store(self.out, create=config is not None)
        if config is None:
            self.config = SearchConfig(**self.store.get("config"))
        else:
            config.validate()
            self.config = config
            self.store.put("config", asdict(config))
        unknown = [t for t in self.config.tasks if t not in directions]
        if unknown:
            checks.fail("--tasks", "some of " + ", ".join(directions), ",".join(unknown))
        self.seeds = {name: validate(spec) for name, spec in seeds.items()}
        if config is not None:
            self.store.put("reference", spec_hash(next(iter(self.seeds.values()))))
        self.reference = self.store.get("reference")  # as the search saw it (a spec file may change)
        self.duplicates = int(self.store.get("duplicates", 0))
        self._limit: int | None = None

    # ------------------------------------------------------------------ proposals
    def _propose(self, generation: int) -> int:
        """Add generation ``generation``'s candidates; how many (none if every draw was tried before)."""
        if generation == 0:
            rows = [
                {"hash": spec_hash(s), "generation": 0, "mutation": f"seed {n}", "spec": s}
                for n, s in self.seeds.items()
            ]
            self.store.add(rows, {"generation": 0})
            return len(rows)
        population = self.population()
        rng = random.Random(f"{self.config.seed}:{generation}")
        rows, taken = [], set()
        for _ in range(self.config.children):
            for _ in range(DUPLICATE_TRIES):
                parent = rng.choice(population)
                child, what = mutate(parent["spec"], rng)
                h = spec_hash(child)
                if h not in taken and not self.store.has(h):
                    break
                self.duplicates += 1
            else:
                continue
            taken.add(h)
            rows.append(
                {"hash": h, "generation": generation, "parent": parent["hash"], "mutation": what, "spec": child}
            )
        self.store.add(rows, {"duplicates": self.duplicates, "generation": generation})
        return len(rows)

    def population(self) -> list[dict]:
        """The ``population`` best evaluated candidates (fitness, then order of birth)."""
        done = self.store.candidates(DONE)
        done.sort(key=lambda c: (-c["fitness"], c["number"]))
        return done[: self.config.population]

    # ------------------------------------------------------------------ evaluations
    def _settings(self, task: str) -> dict[str, Any]:
        steps = self.config.filter_steps if task == FILTER else self.config.steps
        return {"steps": steps, "hidden_size": self.config.hidden_size, "seed": self.config.seed}

    def _task_of(self, row: str) -> str:
        return self.config.tasks[0] if row == FILTER else row

    def _needs(self, candidate: dict) -> list[str]:
        """The evaluations still to run for ``candidate`` (none: it can be settled). The reference
        runs the filter too (the children's filter scores are relative to it) and every task; a child
        runs the filter first, and the tasks only if it passed."""
        done = candidate["evaluations"]
        tasks = [t for t in self.config.tasks if t not in done]
        if candidate["hash"] == self.reference:
            return ([] if FILTER in done else [FILTER]) + tasks
        if candidate["generation"] == 0:
            return tasks
        if FILTER not in done:
            return [FILTER]
        return tasks if self._passes(done[FILTER]) else []

    def _reference(self) -> dict[str, dict]:
        return self.store.evaluations(self.reference)

    def _passes(self, filtered: dict) -> bool:
        ref = self._reference().get(FILTER, {}).get("value")
        score = relative(filtered.get("value"), ref, self.directions[self.config.tasks[0]])
        return not filtered.get("error") and score >= self.config.filter_keep

    def _settle(self, candidate: dict) -> None:
        done = candidate["evaluations"]
        unscored = candidate["hash"] == self.reference and not all(
            isinstance(row.get("value"), float) and math.isfinite(row["value"]) for row in done.values()
        )  # every other score is relative to the reference's: it must have them all
        if unscored or any(row.get("error") for row in done.values()):
            self.store.settle(candidate["hash"], FAILED)
        elif FILTER in done and candidate["hash"] != self.reference and not self._passes(done[FILTER]):
            self.store.settle(candidate["hash"], FILTERED)
        else:
            ref = self._reference()
            scores = [relative(done[t]["value"], ref[t]["value"], self.directions[t]) for t in self.config.tasks]
            self.store.settle(candidate["hash"], DONE, min(scores))

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        engine,
        deadline: float | None = None,
        on_result: Callable | None = None,
        max_evaluations: int | None = None,
    ) -> str:
        """Evaluate generation after generation until ``deadline`` (``time.monotonic()``) or
        ``max_evaluations`` finished in all (this run's and earlier ones'); returns why it stopped.
        Work cut short is cancelled, and done on resume; ``on_result(candidate, row, result)`` is
        told of each finished evaluation."""
        running: dict[Any, tuple[str, str]] = {}
        self._limit, empty = max_evaluations, 0
        try:
            while deadline is None or time.monotonic() < deadline:
                if self._limited():
                    return "evaluation limit"
                generation = self.store.last_generation()
                pending = self.store.candidates(NEW, generation) if generation >= 0 else []
                if pending:
                    self._generation(engine, pending, running, deadline, on_result)
                    continue
                if generation >= 0:
                    self._check_reference()
                if self._propose(generation + 1):
                    empty = 0
                else:
                    empty += 1
                    if empty >= EMPTY_GENERATIONS:
                        return f"no new candidates in {EMPTY_GENERATIONS} generations (all tried before)"
            return "time budget"
        finally:
            if running:
                engine.cancel(list(running))

    def _check_reference(self) -> None:
        reference = self.store.candidate(self.reference)
        if reference is None or reference["status"] != DONE:
            rows = reference["evaluations"].values() if reference else ()
            error = next((r["error"] for r in rows if r.get("error")), "a score that is not a finite number")
            raise SearchError(f"the reference cell (the first seed, the GRU) failed to train: {error}")

    def _limited(self) -> bool:
        return self._limit is not None and self.store.count_evaluations() >= self._limit

    def _generation(self, engine, pending, running, deadline, on_result) -> None:
        """Run the evaluations ``pending`` candidates need, then settle them."""
        by_hash = {c["hash"]: c for c in pending}
        for c in pending:
            self._submit(engine, c, running)
        while running:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            finished = engine.wait_any(list(running), timeout)
            if not finished:
                return  # the deadline
            lost = None
            for future in finished:
                h, row = running.pop(future)
                try:
                    result = _result(future)
                except SearchError as error:  # the others that finished are kept first
                    lost = error
                    continue
                self.store.record(h, row, result)
                c = by_hash[h]
                c["evaluations"] = self.store.evaluations(h)
                if on_result is not None:
                    on_result(c, row, result)
                if not self._limited():
                    self._submit(engine, c, running)
            if lost is not None:
                raise lost
            if self._limited():
                break
        busy = {h for h, _ in running.values()}
        reference = self._reference()
        ready = all(t in reference for t in self.config.tasks)
        for c in pending:  # those with nothing left to run (all of them, unless the limit came first)
            if c["hash"] not in busy and not self._needs(c) and (ready or c["hash"] == self.reference):
                self._settle(c)

    def _submit(self, engine, candidate: dict, running: dict) -> None:
        busy = {row for h, row in running.values() if h == candidate["hash"]}
        for row in self._needs(candidate):
            if row not in busy:
                task = self._task_of(row)
                future = engine.submit(guarded, self.evaluate, candidate["spec"], task, self._settings(row))
                running[future] = (candidate["hash"], row)


class SearchError(ValueError):
    """A search that cannot go on (its reference cell did not train)."""


def guarded(evaluate: Callable[..., dict], *args) -> dict:
    """``evaluate(*args)`` on a worker, an exception turned into ``{"error": its first line}``: a cell
    that cannot train is a result (a failed candidate); what fails outside it is the engine's."""
    try:
        return dict(evaluate(*args))
    except Exception as error:
        return {"error": _first_line(error), "seconds": 0.0}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _result(future) -> dict:
    """A finished evaluation's result. A training that killed its worker again and again (Dask's
    ``KilledWorker``) is the cell's failure; any other exception is the engine's (a lost scheduler,
    a cancelled task): nothing is recorded, and the search stops so that ``--resume`` redoes it."""
    try:
        return dict(future.result())
    except Exception as error:
        if type(error).__name__ == "KilledWorker":
            return {"error": _first_line(error), "seconds": 0.0}
        raise SearchError(f"the engine lost an evaluation ({_first_line(error)}); --resume goes on") from None
