"""Cells as data: the built-in specs compute the built-in cells exactly, specs hash by their graph,
bad specs name the node at fault, and ``--cell graph:...`` runs are self-contained."""

import copy
import dataclasses
import json

import pytest
import torch

from rnnlab.cells import CELLS, make_cell
from rnnlab.cells.graph import GraphCell
from rnnlab.cells.graph_spec import SpecError, canonical, spec_hash, validate
from rnnlab.cells.named import builtin_specs, label, load_spec
from rnnlab.cli import main
from rnnlab.layers import Recurrent
from tests.cli_errors import one_line_error

D, H, B, STEPS = 5, 6, 3, 4
f64 = {"dtype": torch.float64}


def _lstm_weights(cell, builtin, gates):
    """A built-in LSTM's row blocks per gate -> the spec's linear nodes (biases summed)."""
    w_ih, w_hh = builtin.weight_ih.split(H), builtin.weight_hh.split(H)
    bias = (builtin.bias_ih + builtin.bias_hh).split(H)
    for k, gate in enumerate(gates):
        node = cell.nodes[gate]
        node.weight["x"].copy_(w_ih[k]), node.weight["h"].copy_(w_hh[k]), node.bias.copy_(bias[k])


def _gru_weights(cell, builtin):
    w_ih, w_hh = builtin.weight_ih.split(H), builtin.weight_hh.split(H)
    b_ih, b_hh = builtin.bias_ih.split(H), builtin.bias_hh.split(H)
    for k, gate in enumerate(("r", "z")):
        node = cell.nodes[gate]
        node.weight["x"].copy_(w_ih[k]), node.weight["h"].copy_(w_hh[k]), node.bias.copy_(b_ih[k] + b_hh[k])
    cell.nodes["n_x"].weight["x"].copy_(w_ih[2]), cell.nodes["n_x"].bias.copy_(b_ih[2])
    cell.nodes["n_h"].weight["h"].copy_(w_hh[2]), cell.nodes["n_h"].bias.copy_(b_hh[2])


def _mut_weights(cell, builtin):
    blocks = dict(zip(builtin.blocks, builtin.weight_ih.split(H)))
    if cell.projection is not None:  # another input size: the built-in projects x where the paper adds it
        cell.projection.copy_(blocks["h" if builtin.variant == 1 else "r"])
    b_z, b_r, b_h = builtin.bias_zrh.split(H)
    v = builtin.variant
    cell.nodes["z"].weight["x"].copy_(blocks["z"]), cell.nodes["z"].bias.copy_(b_z)
    if v != 1:
        cell.nodes["z"].weight["h" if v == 2 else "squashed_h"].copy_(builtin.weight_hz)
    if v == 2:
        cell.nodes["r_h"].weight["h"].copy_(builtin.weight_hr), cell.nodes["r_h"].bias.copy_(b_r)
    else:
        cell.nodes["r"].weight["x"].copy_(blocks["r"]), cell.nodes["r"].weight["h"].copy_(builtin.weight_hr)
        cell.nodes["r"].bias.copy_(b_r)
    candidate = cell.nodes["u" if v == 1 else "n"]
    candidate.weight["reset_h"].copy_(builtin.weight_hh), candidate.bias.copy_(b_h)
    if v != 1:
        candidate.weight["x"].copy_(blocks["h"])


def _elman_weights(cell, builtin):
    node = cell.nodes["a"]
    node.weight["x"].copy_(builtin.weight_ih), node.weight["h"].copy_(builtin.weight_hh)
    node.bias.copy_(builtin.bias_ih + builtin.bias_hh)


COPY = {
    "lstm": lambda c, b: _lstm_weights(c, b, ("i", "f", "g", "o")),
    "lstm-1997": lambda c, b: _lstm_weights(c, b, ("i", "g", "o")),
    "gru": _gru_weights,
    "mut1": _mut_weights,
    "mut2": _mut_weights,
    "mut3": _mut_weights,
    "rnn-tanh": _elman_weights,
}


@pytest.mark.parametrize(
    "name, size", [(n, D) for n in sorted(COPY)] + [(n, H) for n in sorted(COPY) if n.startswith("mut")]
)
def test_builtin_spec_computes_the_builtin_cell(name, size):
    # MUT1's tanh(x) and MUT2's bare x as in the paper with D == H, through a projection otherwise
    builtin = make_cell(name, size, H, **f64)
    cell = make_cell(f"graph:{name}", size, H, **f64)
    with torch.no_grad():
        COPY[name](cell, builtin)
    state_a = builtin.init_state(B, dtype=torch.float64)
    state_b = cell.init_state(B, dtype=torch.float64)
    state_a = tuple(torch.randn_like(s) for s in state_a)
    state_b = tuple(s.clone() for s in state_a)
    for _ in range(STEPS):
        x = torch.randn(B, size, **f64)
        y_a, state_a = builtin(x, state_a)
        y_b, state_b = cell(x, state_b)
        torch.testing.assert_close(y_b, y_a, atol=1e-10, rtol=0)
        assert len(state_b) == len(state_a)
        for a, b in zip(state_a, state_b):
            torch.testing.assert_close(b, a, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", builtin_specs())
def test_gradients_reach_every_parameter(name):
    cell = make_cell(f"graph:{name}", H, H, **f64)
    state = cell.init_state(B, dtype=torch.float64)
    state = tuple(torch.randn_like(s) for s in state)
    for _ in range(3):
        _, state = cell(torch.randn(B, H, **f64), state)
    sum(s.sum() for s in state).backward()
    for pname, p in cell.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_init_biases_state_dict_and_repr():
    cell = make_cell("graph:lstm", D, H)
    assert torch.equal(cell.nodes["f"].bias, torch.ones(H))
    bound = H**-0.5
    assert (
        float(cell.nodes["i"].bias.detach().abs().max()) <= bound
        and float(cell.nodes["i"].weight["x"].detach().abs().max()) <= bound
    )
    assert "nodes.f.weight.h" in cell.state_dict() and cell.nodes["f"].weight["x"].shape == (H, D)
    assert "spec='lstm'" in repr(cell) and spec_hash(load_spec("lstm")) in repr(cell)
    assert cell.state_spec == (((H,), None), ((H,), None))


def test_node_names_torch_uses_for_its_own_methods_are_fine():
    spec = {
        "nodes": {"update": {"op": "linear", "in": ["x", "h"]}, "keys": {"op": "tanh", "in": ["update"]}},
        "outputs": {"h": "keys"},
    }
    cell = GraphCell(D, H, spec)
    y, (h,) = cell(torch.randn(B, D), cell.init_state(B))
    assert y.shape == (B, H) and "nodes.update.weight.x" in cell.state_dict()


def test_a_stack_on_the_step_path_matches_the_builtin_lstm():
    torch.manual_seed(1)
    builtin = Recurrent("lstm", D, H, num_layers=2, path="steps", **f64)
    graph = Recurrent("graph:lstm", D, H, num_layers=2, **f64)
    with torch.no_grad():
        for a, b in zip(builtin.layers, graph.layers):
            _lstm_weights(b, a, ("i", "f", "g", "o"))
    x = torch.randn(7, B, D, **f64)
    torch.testing.assert_close(graph(x)[0], builtin(x)[0], atol=1e-10, rtol=0)


def test_joined_weights_follow_the_parameters():
    """The matrices joined once per sequence: two backward passes add up, a change between sequences
    (in place, even through ``.data``) is seen."""
    graph = Recurrent("graph:lstm", D, H, **f64)
    x = torch.randn(5, B, D, **f64)
    graph(x)[0].sum().backward()
    first = [p.grad.clone() for p in graph.parameters()]
    graph(x)[0].sum().backward()
    assert all(torch.allclose(p.grad, 2 * g) for p, g in zip(graph.parameters(), first))
    with torch.no_grad():
        for p in graph.parameters():
            p.mul_(0.5)
    graph.layers[0].nodes["g"].weight["h"].data.add_(0.25)  # no version counter sees this one
    fresh = Recurrent("graph:lstm", D, H, **f64)
    fresh.load_state_dict(graph.state_dict())
    torch.testing.assert_close(graph(x)[0], fresh(x)[0])
    assert copy.deepcopy(graph)(x)[0].shape == (5, B, H)
    assert set(graph.layers[0].recurrent_weights()) == {"i.h", "f.h", "g.h", "o.h"}


# ----------------------------------------------------------------- spec identity
def test_round_trip_and_canonical_fixed_point(tmp_path):
    for name in builtin_specs():
        spec = load_spec(name)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(spec))
        assert spec_hash(json.loads(path.read_text())) == spec_hash(spec)
        once = canonical(spec)
        assert canonical(once) == once and spec_hash(once) == spec_hash(spec)
    hashes = {spec_hash(load_spec(n)) for n in builtin_specs()}
    assert len(hashes) == len(builtin_specs())


def _renamed(spec, prefix):
    names = {n: prefix + n for n in spec["nodes"]}
    nodes = {names[n]: {**v, "in": [names.get(i, i) for i in v["in"]]} for n, v in spec["nodes"].items()}
    return {
        **spec,
        "nodes": dict(reversed(nodes.items())),
        "outputs": {k: names[v] for k, v in spec["outputs"].items()},
    }


def test_renaming_and_reordering_keep_the_hash_a_real_change_does_not():
    spec = load_spec("lstm")
    assert spec_hash(_renamed(spec, "q_")) == spec_hash(spec)
    swapped = copy.deepcopy(spec)
    for node in swapped["nodes"].values():
        if node["op"] in ("add", "mul", "linear"):
            node["in"].reverse()
    assert spec_hash(swapped) == spec_hash(spec)
    changed = copy.deepcopy(spec)
    changed["nodes"]["squashed"]["op"] = "relu"
    assert spec_hash(changed) != spec_hash(spec)
    rebiased = copy.deepcopy(spec)
    del rebiased["nodes"]["f"]["bias"]
    assert spec_hash(rebiased) != spec_hash(spec)


def test_the_order_of_the_slots_does_not_change_the_hash():
    spec = {
        "slots": ["fast", "slow"],
        "nodes": {
            "a": {"op": "linear", "in": ["x", "h", "fast"]},
            "b": {"op": "linear", "in": ["x", "slow"], "bias": 1.0},
            "new_fast": {"op": "tanh", "in": ["a"]},
            "new_slow": {"op": "sigmoid", "in": ["b"]},
            "new_h": {"op": "mul", "in": ["new_fast", "new_slow"]},
        },
        "outputs": {"h": "new_h", "fast": "new_fast", "slow": "new_slow"},
    }
    swapped = {**spec, "slots": ["slow", "fast"]}
    assert canonical(swapped) == canonical(spec) and spec_hash(swapped) == spec_hash(spec)
    cell = GraphCell(D, H, swapped)
    y, state = cell(torch.randn(B, D), cell.init_state(B))
    assert len(state) == 3 and y.shape == (B, H)


BASE = {"nodes": {"a": {"op": "linear", "in": ["x", "h"]}, "b": {"op": "tanh", "in": ["a"]}}, "outputs": {"h": "b"}}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"b": {"op": "tanh", "in": ["c"]}, "c": {"op": "sigmoid", "in": ["b"]}}, "cycle"),
        ({"b": {"op": "tanh", "in": ["nowhere"]}}, "node 'b': input 'nowhere'"),
        ({"b": {"op": "add", "in": ["a", "x"]}}, "node 'b': add of inputs of different widths"),
        ({"b": {"op": "softmax", "in": ["a"]}}, "node 'b': unknown operation 'softmax'"),
        ({"stray": {"op": "tanh", "in": ["a"]}}, "node 'stray': no output reads it"),
    ],
)
def test_bad_specs_name_the_node(change, fragment):
    spec = copy.deepcopy(BASE)
    spec["nodes"].update(change)
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(")):
        validate(spec)


def test_missing_output_and_width_at_build_time():
    with pytest.raises(SpecError, match="outputs: expected h, c; missing c"):
        validate({**BASE, "slots": ["c"]})
    # x added to H-unit values: a learned projection where D != H, none where D == H
    assert make_cell("graph:mut1", D, H).projection.shape == (H, D)
    assert make_cell("graph:mut1", H, H).projection is None and make_cell("graph:gru", D, H).projection is None
    with pytest.raises(ValueError, match="a graph cell needs a spec"):
        make_cell("graph", D, H)


def test_registry_and_labels():
    assert "graph" in CELLS and label("graph:specs/my-cell.json") == "graph-my-cell" and label("lstm") == "lstm"
    assert set(builtin_specs()) >= {"lstm", "lstm-1997", "gru", "mut1", "mut2", "mut3", "rnn-tanh"}


def test_seq2seq_keeps_each_cells_spec_and_a_saved_config_builds_again():
    from rnnlab.configs import from_dict
    from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig

    sizes = {"source_vocab": 7, "target_vocab": 6, "embedding_size": 4, "hidden_size": 4}
    both = Seq2SeqConfig(**sizes, cell="graph:gru", decoder_cell="graph:lstm")
    assert (both.cell, both.decoder_cell) == ("graph", "graph")
    assert both.cell_options["spec"]["name"] == "gru" and both.target_options["spec"]["name"] == "lstm"
    mixed = Seq2SeqConfig(**sizes, cell="graph:gru", decoder_cell="lstm")
    assert mixed.target_options == {}
    for config in (both, mixed):
        again = from_dict(Seq2SeqConfig, dataclasses.asdict(config), "model")
        assert again == config
        model = Seq2Seq(again)
        logits, _ = model(torch.tensor([[2, 3], [4, 0]]), torch.tensor([2, 1]), torch.tensor([[1, 1], [3, 4]]))
        assert logits.shape[-1] == 6


# ----------------------------------------------------------------- the CLI
TINY = "-T 6 --hidden 6 --max-steps 3 --eval-every 3 --batch-size 8 --threads 1".split()


def test_task_with_a_spec_file_runs_without_the_file(tmp_path):
    spec_path = tmp_path / "my.json"
    spec_path.write_text(json.dumps(load_spec("gru")))
    out = tmp_path / "run"
    assert main(["task", "adding", "--cell", f"graph:{spec_path}", "--out", str(out), *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    model = next(v for v in config.values() if isinstance(v, dict) and "cell" in v)
    assert model["cell"] == "graph" and spec_hash(model["cell_options"]["spec"]) == spec_hash(load_spec("gru"))
    spec_path.unlink()
    assert main(["task", "--resume", str(out), "--max-steps", "5", "--eval-every", "5", "--threads", "1"]) == 0
    from rnnlab.tasks.sequence import load_sequence_run

    model, task, cfg = load_sequence_run(out)
    assert cfg.cell == "graph" and isinstance(model.rnn.layers[0], GraphCell)


@pytest.mark.parametrize(
    "content, fragments",
    [
        (None, ["missing.json", "cannot read"]),
        ("{not json", ["bad.json", "not JSON"]),
        (json.dumps({**BASE, "nodes": {**BASE["nodes"], "b": {"op": "tanh", "in": ["zz"]}}}), ["bad.json", "node 'b'"]),
    ],
)
def test_a_bad_spec_file_is_one_line_and_writes_nothing(tmp_path, capsys, content, fragments):
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content)
    out = tmp_path / "run"
    argv = ["train", "--cell", f"graph:{path}", "--data", "shakespeare", "--out", str(out), "--max-steps", "1"]
    assert main(argv) == 2
    one_line_error(capsys, *fragments)
    assert not out.exists()
