"""``rnnlab train --task tree`` and ``rnnlab tree`` on small files of ListOps trees, and the bad input
each refuses with one line and exit status 2, writing nothing."""

import json
import random
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data import tree_sets
from rnnlab.data.listops import generate, node_values
from rnnlab.data.trees import to_text
from rnnlab.models.tree import TreeModelConfig
from rnnlab.tasks.tree import TreeDataConfig, TreeTask

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--threads", "1", "--batch-size", "16"]


def listops_file(path: Path, n: int = 300, seed: int = 0, max_depth: int = 3) -> Path:
    rng = random.Random(seed)
    trees = [generate(rng, max_depth=max_depth) for _ in range(n)]
    path.write_text("".join(f"{node_values(t)[0]}\t{to_text(t)}\n" for t in trees))
    return path


def train(data: Path, out: Path, *flags: str) -> int:
    return main(["train", "--task", "tree", "--data", str(data), "--out", str(out), *TINY, *flags])


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree-cli")
    data = listops_file(root / "listops.tsv")
    tree, seq = root / "tree", root / "seq"
    assert train(data, tree, "--max-epochs", "2") == 0
    assert train(data, seq, "--max-epochs", "1", "--cell", "gru") == 0
    return root, data, tree, seq


def test_training_writes_a_run_with_accuracy_by_height(runs):
    _, _, tree, seq = runs
    for out in (tree, seq):
        results = json.loads((out / "results.json").read_text())
        assert results["task"] == "tree" and results["sizes"]["train"] == 240
        heights = results["test"]["by_height"]
        assert sum(h["n"] for h in heights.values()) == results["sizes"]["test"]
        assert set(heights) <= {"1", "2", "3"}
        assert 0 <= results["test"]["accuracy"] <= 1 and "baseline" in results
        assert (out / "model.safetensors").is_file()


def test_tree_prints_the_root_and_every_node(runs, capsys, tmp_path):
    _, _, tree, _ = runs
    capsys.readouterr()
    assert main(["tree", str(tree), "(MAX 2 9 (MIN 4 7) 0)", "--nodes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["label"] in [str(d) for d in range(10)]
    assert abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-4
    nodes = rows[0]["nodes"]
    assert [n["node"] for n in nodes] == ["MAX", "2", "9", "MIN", "4", "7", "0"]
    assert [n["depth"] for n in nodes] == [0, 1, 1, 1, 2, 2, 1]
    assert nodes[0]["label"] == rows[0]["label"]  # the root's node prediction is the tree's
    png = tmp_path / "t.png"
    assert main(["tree", str(tree), "(SM 3 4)", "--plot", str(png), "--unit", "2"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("(SM 3 4)")


def test_a_tree_alone_and_in_a_batch_get_the_same_classes(runs, capsys):
    _, _, tree, _ = runs
    trees = ["(MAX 2 9 (MIN 4 7) 0)", "(SM 1 2 (MED 3 4 5))", "(MIN 8 (MAX 1 (SM 2 3)))"]
    capsys.readouterr()
    assert main(["tree", str(tree), *trees, "--json"]) == 0
    together = json.loads(capsys.readouterr().out)
    for k, text in enumerate(trees):
        assert main(["tree", str(tree), text, "--json"]) == 0
        alone = json.loads(capsys.readouterr().out)[0]
        for name, p in alone["probabilities"].items():
            assert together[k]["probabilities"][name] == pytest.approx(p, abs=1e-5)


def test_inspect_and_resume(runs, tmp_path, capsys):
    _, data, tree, _ = runs
    capsys.readouterr()
    assert main(["inspect", str(tree)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "tree" and report["labels"] == [str(d) for d in range(10)]
    out = tmp_path / "r"
    assert train(data, out, "--max-steps", "4", "--eval-every", "2") == 0
    assert main(["train", "--resume", str(out), "--max-steps", "8"]) == 0
    assert json.loads((out / "results.json").read_text())["task"] == "tree"


def test_node_labels_train_every_node(tmp_path, monkeypatch):
    rng = random.Random(1)
    made = {}
    for split, n in (("train", 64), ("val", 32), ("test", 32)):
        trees = [generate(rng, max_depth=3) for _ in range(n)]
        made[split] = [
            tree_sets.bracket_example(t, str(node_values(t)[0]), [str(v) for v in node_values(t)]) for t in trees
        ]
    monkeypatch.setitem(tree_sets.SPLIT_SETS, "listops", lambda: made)
    cfg = TreeModelConfig(hidden_size=8, embedding_size=8)
    task = TreeTask(cfg, TreeDataConfig(data="listops", node_labels=True), 8, 0)
    batch, weight = task.next_batch()
    assert weight == 1.0  # the whole batch, on one process
    loss, info = task.loss((batch, weight))
    nodes = sum(len(e.node_ids) for e in batch)
    assert info["tokens"] == nodes
    task.model.eval()  # the same dropout-free numbers for both
    inputs = task.encoder.inputs(batch)
    target = task.encoder.node_targets(batch, inputs.batch)
    expected = torch.nn.functional.cross_entropy(task.model.nodes(inputs), target, reduction="sum") / len(batch)
    loss, _ = task.loss((batch, weight))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert (target >= 0).all() and target.numel() == nodes


def test_bad_trees_in_a_training_file(tmp_path, capsys):
    data = tmp_path / "bad.tsv"
    data.write_text("9\t(MAX 2 9\n" * 10)
    err = _error(capsys, ["train", "--task", "tree", "--data", str(data), "--out", str(tmp_path / "o")])
    assert "line 1" in err and "character 0" in err and "never closed" in err
    assert not (tmp_path / "o").exists()
    data.write_text("9\t(MAX 2 9))\n")
    assert "closes nothing" in _error(capsys, ["train", "--task", "tree", "--data", str(data)])
    data.write_text("9\t()\n")
    assert "no label" in _error(capsys, ["train", "--task", "tree", "--data", str(data)])
    data.write_text("\n\n")
    assert "no trees" in _error(capsys, ["train", "--task", "tree", "--data", str(data)])


def test_too_many_children_for_a_binary_cell(runs, tmp_path, capsys):
    _, data, _, _ = runs
    out = tmp_path / "b"
    err = _error(
        capsys, ["train", "--task", "tree", "--data", str(data), "--cell", "binary-tree-lstm", "--out", str(out)]
    )
    assert "children" in err and "at most 2" in err and not out.exists()


def test_the_tree_command_refuses_bad_input(runs, tmp_path, capsys):
    _, _, tree, seq = runs
    assert "character 0 is never closed" in _error(capsys, ["tree", str(tree), "(MAX 2 9"])
    assert "closes nothing" in _error(capsys, ["tree", str(tree), "(MAX 2 9))"])
    assert "empty" in _error(capsys, ["tree", str(tree), " "])
    png = tmp_path / "x.txt"
    assert ".png" in _error(capsys, ["tree", str(tree), "(MAX 1 2)", "--plot", str(png)])
    assert "--plot" in _error(capsys, ["tree", str(tree), "(MAX 1 2)", "--unit", "1"])
    assert "unit" in _error(capsys, ["tree", str(tree), "(MAX 1 2)", "--plot", str(tmp_path / "a.png"), "--unit", "99"])
    assert "reads the tokens" in _error(capsys, ["tree", str(seq), "(MAX 1 2)", "--nodes"])
    assert "is not an existing folder" in _error(capsys, ["tree", str(tree), "(MAX 1 2)", "--plot", "/no/dir/t.png"])
    (tmp_path / "d.png").mkdir()
    assert "is a folder" in _error(capsys, ["tree", str(tree), "(MAX 1 2)", "--plot", str(tmp_path / "d.png")])
    assert not png.exists() and not (tmp_path / "a.png").exists()


def test_tree_on_a_run_of_another_kind(tmp_path, capsys):
    data = tmp_path / "texts.csv"
    data.write_text("label,text\n" + "".join(f"{'ab'[k % 2]},word{k % 2} other\n" for k in range(40)))
    out = tmp_path / "c"
    assert (
        main(
            [
                "train",
                "--task",
                "classify",
                "--data",
                str(data),
                "--out",
                str(out),
                "--max-epochs",
                "1",
                "--hidden-size",
                "8",
                "--embedding-size",
                "8",
            ]
        )
        == 0
    )
    before = sorted(p.name for p in out.iterdir())
    err = _error(capsys, ["tree", str(out), "(MAX 1 2)"])
    assert "classif" in err
    assert sorted(p.name for p in out.iterdir()) == before


def _conllu_sentence(words: list[tuple[str, int]], label: str, sent_id: str) -> str:
    lines = [f"# sent_id = {sent_id}", f"# label = {label}"]
    lines += [f"{k}\t{w}\t_\t_\t_\t_\t{h}\tdep\t_\t_" for k, (w, h) in enumerate(words, 1)]
    return "\n".join(lines) + "\n\n"


def conllu_file(path: Path, n: int = 60) -> Path:
    good = [("a", 2), ("fine", 3), ("film", 0)], [("a", 2), ("poor", 3), ("film", 0)]
    path.write_text("".join(_conllu_sentence(good[k % 2], ("pos", "neg")[k % 2], f"s{k}") for k in range(n)))
    return path


def test_a_conllu_file_trains_with_the_leaves_reading_a_bilstm(tmp_path, capsys):
    data = conllu_file(tmp_path / "train.conllu")
    out = tmp_path / "dep"
    assert train(data, out, "--max-epochs", "3", "--leaf-encoder", "lstm", "--baseline", "false") == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "tree-lstm over lstm" and results["sizes"]["train"] == 48
    model = json.loads((out / "config.json").read_text())["model"]
    assert model["leaf_encoder"] == "lstm"


@pytest.mark.parametrize(
    "words, named",
    [
        ([("a", 2), ("fine", 3), ("film", 2)], ["sentence 2", "s1"]),  # film <- fine <- film: no root, a cycle
        ([("a", 2), ("fine", 7), ("film", 0)], ["sentence 2", "s1", "fine", "7"]),  # HEAD out of range
    ],
)
def test_a_conllu_file_with_a_cycle_or_a_head_out_of_range(tmp_path, capsys, words, named):
    data = conllu_file(tmp_path / "bad.conllu", 1)
    data.write_text(data.read_text() + _conllu_sentence(words, "pos", "s1"))
    out = tmp_path / "o"
    err = _error(capsys, ["train", "--task", "tree", "--data", str(data), "--out", str(out)])
    assert all(word in err for word in named), err
    assert not out.exists()


def test_binarized_lists_train_a_binary_cell_and_the_tree_command_reads_them(runs, tmp_path, capsys):
    _, data, _, _ = runs
    out = tmp_path / "bin"
    assert train(data, out, "--max-steps", "6", "--cell", "binary-tree-lstm", "--binarize") == 0
    heights = json.loads((out / "results.json").read_text())["test"]["by_height"]
    assert set(heights) <= {"1", "2", "3"}  # the given trees' heights, not the chains'
    capsys.readouterr()
    assert main(["tree", str(out), "(MAX 1 2 3 4)", "--nodes", "--json"]) == 0
    nodes = json.loads(capsys.readouterr().out)[0]["nodes"]
    assert [n["node"] for n in nodes] == ["MAX", "MAX", "MAX", "1", "2", "3", "4"]  # ((1 2) 3) 4


def test_trees_labelled_at_every_node_train_every_node_and_read_back(tmp_path, capsys):
    good, bad = "(1 (1 (1 a) (1 fine)) (1 film))", "(0 (0 (1 a) (0 poor)) (1 film))"
    data = tmp_path / "sst.txt"
    data.write_text("".join(f"{(good, bad)[k % 2]}\n" for k in range(60)))
    from rnnlab.data.tree_sets import INNER, read_tree_file

    example = read_tree_file(data)[1]
    assert example.label == "0" and example.tokens == ["a", "poor", "film"]
    assert example.node_labels == ["0", "0", "1", "", "0", "", "1", ""]
    assert [n.label for n in example.tree.nodes()][:2] == [INNER, INNER]
    assert [n.index for n in example.tree.nodes() if n.is_leaf] == [0, 1, 2]
    out = tmp_path / "sst"
    assert train(data, out, "--max-epochs", "8", "--node-labels", "--lr", "0.01") == 0
    capsys.readouterr()
    assert main(["tree", str(out), "(x (x (x a) (x fine)) (x film))", "(x (x (x a) (x poor)) (x film))"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "0"]
    assert "lone word" in _error(capsys, ["tree", str(out), "film"])


def test_binarized_chains_read_their_list_s_place_in_the_tokens():
    """With --binarize the nodes of a chain read the BiLSTM under them at their list's operator."""
    from rnnlab.data.tokens import Labels, TokenVocab
    from rnnlab.data.trees import parse_tree
    from rnnlab.tasks.tree import TreeEncoder

    example = tree_sets.bracket_example(parse_tree("(MAX 2 9 (MIN 4 7 1) 0)"), "9")
    vocab = TokenVocab.build([example.tokens])
    encoder = TreeEncoder(vocab, Labels.build(["9"]), lowercase=True)
    plain, chained = encoder.encode(example), encoder.encode(example, binarize=True)
    tokens = example.tokens  # ( MAX 2 9 ( MIN 4 7 1 ) 0 )
    assert [tokens[p] for p in plain.positions] == ["MAX", "2", "9", "MIN", "4", "7", "1", "0"]
    labels = [n.label for n in chained.example.tree.nodes()]
    assert [tokens[p] for p in chained.positions] == labels  # every node reads its own token
    assert chained.positions[:3] == [1, 1, 1] and chained.height == plain.height == 2
