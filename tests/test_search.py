"""The cell search's loop and state: seeded proposals, the filter, failures, and resuming."""

import concurrent.futures as cf
import random

import pytest

from rnnlab.cells.graph_spec import spec_hash, validate
from rnnlab.cells.named import load_spec
from rnnlab.search.driver import FILTER, Search, SearchConfig, SearchError, relative
from rnnlab.search.mutate import KINDS, mutate
from rnnlab.search.store import DONE, FAILED, FILTERED, Store

SEEDS = {"gru": load_spec("gru"), "lstm": load_spec("lstm")}
DIRECTIONS = {"a": True, "b": False}  # an accuracy and a loss


class Threads:
    """The engine's interface on a thread pool: one worker, so the order of results is fixed."""

    def __init__(self, workers=1):
        self.pool = cf.ThreadPoolExecutor(workers)
        self.cancelled = 0

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def wait_any(self, futures, timeout):
        return list(cf.wait(futures, timeout, return_when=cf.FIRST_COMPLETED)[0])

    def cancel(self, futures):
        self.cancelled += sum(f.cancel() for f in futures)


def score(spec, task, settings):
    """A made-up score that depends on the graph only (and the training length)."""
    h = int(spec_hash(spec)[:6], 16)
    value = 0.2 + (h % 997) / 1000 + settings["steps"] / 1e6
    return {"value": value if task == "a" else 1 / value, "seconds": 0.0}


def _search(tmp_path, name, evaluate=score, **config):
    config = {"tasks": ["a", "b"], "children": 3, "population": 4, **config}
    return Search(tmp_path / name, SearchConfig(**config), SEEDS, evaluate, DIRECTIONS)


def _made(path):
    with Store(path) as store:
        return [(c["hash"], c["status"], c["evaluations"].keys()) for c in store.candidates()]


def test_every_mutation_gives_a_valid_new_graph():
    rng, seen = random.Random(0), set()
    for name in ("lstm", "gru", "rnn-tanh", "lstm-1997"):  # (MUT1 and MUT2 need x as wide as h)
        spec = load_spec(name)
        for _ in range(60):
            child, what = mutate(spec, rng)
            assert validate(child) == child and spec_hash(child) != spec_hash(spec)
            seen.add(what.split()[0])
            spec = child
    assert seen == {"activation", "operation", "insert", "remove", "input"} and len(KINDS) == 5


def test_a_seeded_search_evaluates_the_same_candidates_in_the_same_order(tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir(), (tmp_path / "other").mkdir()
    for name in ("one", "two"):
        _search(tmp_path, name).run(Threads(), max_evaluations=40)
    assert _made(tmp_path / "one") == _made(tmp_path / "two")
    _search(tmp_path, "other", seed=1).run(Threads(), max_evaluations=40)
    assert _made(tmp_path / "one")[:2] == _made(tmp_path / "other")[:2]  # the seeds
    assert _made(tmp_path / "one")[2:] != _made(tmp_path / "other")[2:]


def test_the_reference_scores_one_and_fitness_is_the_worst_task(tmp_path):
    (tmp_path / "s").mkdir()
    search = _search(tmp_path, "s")
    assert search.run(Threads(), max_evaluations=30) == "evaluation limit"
    with Store(tmp_path / "s") as store:
        gru, *others = store.candidates()
        assert gru["hash"] == spec_hash(SEEDS["gru"]) and gru["fitness"] == 1.0
        assert set(gru["evaluations"]) == {FILTER, "a", "b"}
        for c in others:
            ev = c["evaluations"]
            if c["status"] == DONE:
                scores = [relative(ev[t]["value"], gru["evaluations"][t]["value"], DIRECTIONS[t]) for t in "ab"]
                assert c["fitness"] == pytest.approx(min(scores))
            if c["status"] == FILTERED:
                assert set(ev) == {FILTER}  # no full training after a failed filter
                assert ev[FILTER]["value"] < search.config.filter_keep * gru["evaluations"][FILTER]["value"]
        assert any(c["status"] == DONE for c in others[1:]) and store.count_evaluations() >= 30


def test_a_cell_that_cannot_train_is_a_failed_candidate_and_the_search_goes_on(tmp_path):
    def fragile(spec, task, settings):
        if "relu" in str(spec):
            raise RuntimeError("the loss was not finite\nsecond line")
        return score(spec, task, settings)

    (tmp_path / "s").mkdir()
    _search(tmp_path, "s", evaluate=fragile).run(Threads(), max_evaluations=80)
    with Store(tmp_path / "s") as store:
        failed = store.candidates(FAILED)
        assert failed and all("relu" in str(c["spec"]) for c in failed)
        errors = [r["error"] for c in failed for r in c["evaluations"].values() if r["error"]]
        assert errors and all(e == "RuntimeError: the loss was not finite" for e in errors)
        assert len(store.candidates(DONE)) > 2


def test_a_search_whose_reference_cannot_train_stops_with_the_reason(tmp_path):
    def broken(spec, task, settings):
        raise ValueError("no such data")

    (tmp_path / "s").mkdir()
    with pytest.raises(SearchError, match="the reference cell .* failed to train: ValueError: no such data"):
        _search(tmp_path, "s", evaluate=broken).run(Threads())


def test_a_resumed_search_goes_on_as_if_never_stopped(tmp_path):
    (tmp_path / "straight").mkdir(), (tmp_path / "parts").mkdir()
    _search(tmp_path, "straight").run(Threads(), max_evaluations=45)
    _search(tmp_path, "parts").run(Threads(), max_evaluations=17)
    again = Search(tmp_path / "parts", None, SEEDS, score, DIRECTIONS)  # the settings come from the file
    assert again.config.children == 3
    again.run(Threads(), max_evaluations=60)
    with Store(tmp_path / "straight") as a, Store(tmp_path / "parts") as b:
        straight, parts = a.candidates(), b.candidates()
        assert len(parts) >= len(straight) > 10
        for x, y in zip(straight, parts):  # the same candidates, and the same outcome where both settled
            assert (x["hash"], x["generation"], x["mutation"]) == (y["hash"], y["generation"], y["mutation"])
            if x["status"] != "new":
                assert (x["status"], x["fitness"]) == (y["status"], y["fitness"])


def test_a_search_with_nothing_new_to_try_stops_instead_of_spinning(tmp_path, monkeypatch):
    monkeypatch.setattr("rnnlab.search.driver.mutate", lambda spec, rng: (SEEDS["gru"], "nothing new"))
    (tmp_path / "s").mkdir()
    stopped = _search(tmp_path, "s").run(Threads())
    assert stopped == "no new candidates in 5 generations (all tried before)"
    with Store(tmp_path / "s") as store:
        assert len(store.candidates()) == 2 and store.last_generation() == 5 and store.get("duplicates") == 5 * 3 * 50


class Lost(Threads):
    """An engine whose scheduler went away after the first evaluations."""

    def submit(self, fn, *args):
        if getattr(self, "sent", 0) >= 3:
            future = cf.Future()
            future.set_exception(OSError("Timed out trying to connect to tcp://127.0.0.1:8786"))
            return future
        self.sent = getattr(self, "sent", 0) + 1
        return super().submit(fn, *args)


def test_an_engine_that_fails_records_nothing_and_stops(tmp_path):
    (tmp_path / "s").mkdir()
    with pytest.raises(SearchError, match="the engine lost an evaluation .OSError: Timed out trying to connect"):
        _search(tmp_path, "s").run(Lost())
    with Store(tmp_path / "s") as store:  # the lost evaluation is not a failed cell: --resume runs it
        assert store.count_evaluations() <= 3 and not store.candidates(FAILED)
        assert all(not r["error"] for c in store.candidates() for r in c["evaluations"].values())


def test_an_identity_node_computes_nothing_and_leaves_the_hash_alone():
    gru = load_spec("gru")
    name, node = next((n, v) for n, v in gru["nodes"].items() if v["op"] == "linear" and "h" in v["in"])
    reader = next(n for n, v in gru["nodes"].items() if name in v["in"])
    wrapped = {**gru, "nodes": {**gru["nodes"], "same": {"op": "identity", "in": [name]}}}
    wrapped["nodes"][reader] = {
        **gru["nodes"][reader],
        "in": ["same" if i == name else i for i in gru["nodes"][reader]["in"]],
    }
    assert spec_hash(wrapped) == spec_hash(gru)
    squashed = {**wrapped, "nodes": {**wrapped["nodes"], "same": {"op": "tanh", "in": [name]}}}
    assert spec_hash(squashed) != spec_hash(gru)
    nodes = {"a": {"op": "tanh", "in": ["x"]}, "b": {"op": "linear", "in": ["a", "h"]}}
    copy = {"slots": [], "nodes": {**nodes, "out": {"op": "identity", "in": ["h"]}}, "outputs": {"h": "c"}}
    copy["nodes"]["c"] = {"op": "mul", "in": ["b", "out"]}
    direct = {"slots": [], "nodes": {**nodes, "c": {"op": "mul", "in": ["b", "h"]}}, "outputs": {"h": "c"}}
    assert spec_hash(copy) == spec_hash(direct)
