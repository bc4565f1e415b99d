"""The tree task (``rnnlab train --task tree``, ``rnnlab tree``): a class for each tree, and with
``--node-labels`` for every node.

The examples (:mod:`rnnlab.data.tree_sets`) are ListOps expressions, parsed sentences, program
syntax trees or the user's files; a set without splits of its own is split as the classifier
splits its data (stratified, seeded), so the two tasks see the same sentences. The vocabulary comes
from the training tokens. With ``--binarize`` a node of many children becomes a left-branching
chain of binary nodes as the trees are encoded. Batches group trees of similar size. The loss is
the cross-entropy at the roots, or with node labels the cross-entropy summed over a tree's nodes
(the root's target being the tree's label; nodes without a label left out), averaged over the
trees. Validation picks the best weights by the roots' accuracy; the results give validation and
test scores, the test accuracy by the height of the given trees, and a TF-IDF + logistic
regression baseline fitted on the same training split (the tokens as its text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnlab.baseline import baseline_results
from rnnlab.checkpoint import CheckpointError
from rnnlab.data.batching import bucket_batches, pad
from rnnlab.data.corpora import DataError
from rnnlab.data.labelled import Example
from rnnlab.data.tokens import Labels, TokenVocab
from rnnlab.data.tree_sets import INNER, NAMES, SPLIT_SETS, WHOLE_SETS, bracket_positions, read_tree_file
from rnnlab.data.trees import Tree, TreeExample, binarize, to_text
from rnnlab.metrics import class_scores
from rnnlab.models.tree import TreeClassifier, TreeInputs, TreeModelConfig
from rnnlab.runs import RunConfig, check_tables, read_config
from rnnlab.tasks.classify import ClassifyTask, load_best
from rnnlab.tasks.common import EpochBatches, PassTask, TextDataConfig, split_labelled
from rnnlab.train.distributed import ALONE, World, all_sum, current, gather_parts
from rnnlab.trees import TreeBatch
from rnnlab.trees.batch import TreeShape

EVAL_BATCH = 64
LOG_FLOOR = math.log(1e-12)
IGNORED = -100  # the target of a node without a label


@dataclass
class TreeDataConfig(TextDataConfig):
    """The trees of the tree task and how they are read."""

    data: str = field(default="", metadata={"help": "a named set (" + ", ".join(NAMES) + ") or a file of trees"})
    node_labels: bool = field(default=False, metadata={"help": "also learn the label of every node (where given)"})
    binarize: bool = field(
        default=False, metadata={"help": "make nodes of many children left-branching binary chains (ListOps' trees)"}
    )
    baseline: bool = field(default=True, metadata={"help": "also fit TF-IDF + logistic regression on the same split"})


def load_tree_splits(cfg: TreeDataConfig, seed: int) -> dict[str, list[TreeExample]]:
    """Training, validation and test examples (see the module docstring).

    Raises:
        DataError: unreadable data, too few examples of a class, or labels only validation or test have.
    """
    if cfg.data in SPLIT_SETS:
        if cfg.val_data or cfg.test_data:
            raise DataError(f"data: {cfg.data} has splits of its own; give no --val-data or --test-data")
        return SPLIT_SETS[cfg.data]()
    examples = WHOLE_SETS[cfg.data]() if cfg.data in WHOLE_SETS else read_tree_file(cfg.data)
    return split_labelled(examples, cfg, seed, read_tree_file)


def binarized(example: TreeExample) -> tuple[TreeExample, list[int]]:
    """``example`` with its tree binarized (:func:`~rnnlab.data.trees.binarize`), and for each new
    node the place in the given tree's nodes of the node it is part of (a chain's nodes are all
    part of the node it stands for); a node inside a chain has no node label."""
    tree, origin = binarize(example.tree)
    labels = example.node_labels
    node_labels = None if labels is None else [labels[k] if k >= 0 else "" for k in origin]
    part_of, parent = list(origin), {}
    for k, node in enumerate(tree.nodes()):  # parents first: a chain's inner node takes its parent's
        if part_of[k] < 0:
            part_of[k] = part_of[parent[id(node)]]
        for child in node.children:
            parent[id(child)] = k
    return TreeExample(tree, example.label, example.tokens, node_labels), part_of


@dataclass
class Encoded:
    """An example as ids: its nodes' words and labels (:meth:`Tree.nodes` order), tokens and positions."""

    example: TreeExample
    height: int
    shape: TreeShape
    node_ids: list[int]
    tokens: list[int]
    positions: list[int]
    label: int
    node_labels: list[int] | None


def lookup_form(word: str, lowercase: bool) -> str:
    """The form a word is looked up in (lowercased if asked; digits stay: ListOps reads them)."""
    return word.lower() if lowercase else word


class TreeEncoder:
    """Examples to ids, as the run was trained."""

    def __init__(self, vocab: TokenVocab, labels: Labels, lowercase: bool) -> None:
        self.vocab, self.labels, self.lowercase = vocab, labels, lowercase

    def form(self, word: str) -> str:
        return lookup_form(word, self.lowercase)

    def encode(self, example: TreeExample, binarize: bool = False) -> Encoded:
        """``example`` as ids; with ``binarize``, its tree :func:`binarized` (the height stays the
        given tree's)."""
        given_tree = example.tree
        positions = bracket_positions(given_tree, example.tokens)
        if binarize:
            example, part_of = binarized(example)
            positions = [positions[k] for k in part_of]
        shape = TreeShape.of(example.tree)
        height = given_tree.height() if binarize else int(shape.heights[0])  # the root comes first
        nodes = list(example.tree.nodes())
        ids = self.vocab.ids(self.form(node.label) for node in nodes)
        tokens = self.vocab.ids(self.form(t) for t in example.tokens) or [1]
        given = example.node_labels
        node_labels = None if given is None else [self.labels.index.get(n, IGNORED) for n in given]
        label = self.labels.ids([example.label])[0] if example.label in self.labels.index else -1
        return Encoded(example, height, shape, ids, tokens, positions, label, node_labels)

    def inputs(self, encoded: list[Encoded]) -> TreeInputs:
        """One batch as :class:`~rnnlab.models.tree.TreeInputs`."""
        batch = TreeBatch.join([e.shape for e in encoded])
        flat = node_places(encoded, batch)
        node_ids = torch.tensor([i for e in encoded for i in e.node_ids], dtype=torch.long)[flat]
        positions = torch.tensor([p for e in encoded for p in e.positions], dtype=torch.long)[flat]
        tokens, lengths = pad([e.tokens for e in encoded])
        return TreeInputs(batch, node_ids, tokens, lengths, positions)

    @staticmethod
    def node_targets(encoded: list[Encoded], batch: TreeBatch) -> torch.Tensor:
        """``(N,)`` each node's label id in the batch's order, :data:`IGNORED` where none is known."""
        labels = [t for e in encoded for t in (e.node_labels or [IGNORED] * len(e.node_ids))]
        return torch.tensor(labels, dtype=torch.long)[node_places(encoded, batch)]


def node_places(encoded: list[Encoded], batch: TreeBatch) -> torch.Tensor:
    """For each node of ``batch``, its place among the examples' nodes laid end to end (each
    example's in :meth:`Tree.nodes` order): where to read what is kept per node."""
    sizes = torch.tensor([len(e.node_ids) for e in encoded])
    return (sizes.cumsum(0) - sizes)[batch.tree_of] + batch.order


@torch.no_grad()
def predict(model: TreeClassifier, encoder: TreeEncoder, encoded: list[Encoded]) -> torch.Tensor:
    """Class log-probabilities ``(N, C)`` at the roots of encoded examples, in their order."""
    model.eval()
    out = torch.empty(len(encoded), model.config.num_classes)
    for batch in bucket_batches([len(e.node_ids) for e in encoded], EVAL_BATCH, None):
        out[batch] = torch.log_softmax(model(encoder.inputs([encoded[i] for i in batch])).float(), dim=-1)
    return out


def score(
    model: TreeClassifier, encoder: TreeEncoder, encoded: list[Encoded], by_height: bool = False, world: World = ALONE
) -> dict:
    """Mean cross-entropy and :func:`~rnnlab.metrics.class_scores` at the roots; with ``by_height``
    also the accuracy of the trees of each height. Each process of ``world`` scores its part of the
    trees, and the processes add up their sums and predictions."""
    part = world.part(len(encoded))
    logp = predict(model, encoder, encoded[part])
    gold = torch.tensor([e.label for e in encoded])
    known = gold[part] >= 0
    picked = logp[known].gather(1, gold[part][known].unsqueeze(1)).clamp_min(LOG_FLOOR)
    pred = [[p] for p in logp.argmax(1).tolist()]
    loss = -float(picked.mean())  # NaN when no tree has a known label
    if world.size > 1:  # the exact mean over all processes' trees
        (nll,) = all_sum([-float(picked.sum())], world)
        loss = nll / int((gold >= 0).sum()) if bool((gold >= 0).any()) else math.nan
    pred = [p for (p,) in gather_parts(pred, part, [1] * len(encoded), world)]
    scores = {"loss": loss, **class_scores(gold.tolist(), pred, encoder.labels.names)}
    if by_height:
        heights: dict[int, list[bool]] = {}
        for e, g, p in zip(encoded, gold.tolist(), pred):
            heights.setdefault(e.height, []).append(g == p)
        scores["by_height"] = {str(h): {"n": len(v), "accuracy": sum(v) / len(v)} for h, v in sorted(heights.items())}
    return scores


def check_children(model: TreeClassifier, trees: list[Tree], what: str) -> None:
    """Refuse a tree with a node of more children than ``model``'s cell takes.

    Raises:
        DataError: one line naming ``what`` and the tree's number (from 1), its text and the node.
    """
    most = model.cell.max_children if model.config.is_tree else None
    for k, tree in enumerate(trees if most is not None else (), start=1):
        wide = next((n for n in tree.nodes() if len(n.children) > most), None)  # type: ignore[operator]
        if wide is not None:
            text = to_text(tree)
            shown = text if len(text) <= 60 else text[:59] + "…"
            raise DataError(
                f"{what} {k} ({shown}): the node {wide.label!r} has {len(wide.children)} children; "
                f"--cell {model.config.cell} takes at most {most} (--binarize makes chains of two)"
            )


class TreeTask(PassTask):
    """A :class:`~rnnlab.models.tree.TreeClassifier` on labelled trees.

    Args:
        model_cfg: the architecture (``vocab_size`` and ``num_classes`` are filled in from the data).
        data: the trees and how to read them.
        batch_size: trees per step.
        seed: seeds the split, the initial weights and the batches.
        tables: a resumed run's vocabulary and labels.
    """

    kind = "tree"
    parallel = True
    unit, speed_key = "node", "nodes_per_s"
    metric, higher_is_better = "val_accuracy", True

    def __init__(
        self, model_cfg: TreeModelConfig, data: TreeDataConfig, batch_size: int, seed: int, tables: dict | None = None
    ) -> None:
        data.validate()
        self.data, self.splits = data, load_tree_splits(data, seed)
        if len(self.splits["train"]) == 0:
            raise DataError("data: no training trees")
        if tables is None:
            pieces = (
                [lookup_form(w, data.lowercase) for w in (*e.tokens, *(n.label for n in e.tree.nodes()))]
                for e in self.splits["train"]
            )
            self.vocab = TokenVocab.build(pieces, data.min_freq, data.max_vocab)
            names = [e.label for e in self.splits["train"]]
            if data.node_labels:
                names += [n for e in self.splits["train"] for n in e.node_labels or () if n]
            self.labels = Labels.build(names)
            model_cfg.vocab_size, model_cfg.num_classes = len(self.vocab), len(self.labels)
        else:
            self.vocab, self.labels = TokenVocab.from_json(tables["vocab"]), Labels.from_json(tables["labels"])
        if data.node_labels and not model_cfg.is_tree:
            raise DataError(f"node_labels: --cell {model_cfg.cell} reads the tokens; node labels need a tree cell")
        if data.node_labels and not any(e.node_labels for e in self.splits["train"]):
            raise DataError(f"node_labels: the trees of {data.data} carry no labels at their nodes")
        self.encoder = TreeEncoder(self.vocab, self.labels, data.lowercase)
        self.encoded = {k: [self.encoder.encode(e, data.binarize) for e in v] for k, v in self.splits.items()}
        torch.manual_seed(seed)
        self.model = TreeClassifier(model_cfg)  # checks the tree against the cell before anything is written
        for split, examples in self.encoded.items():
            check_children(self.model, [e.example.tree for e in examples], f"data: {split} tree")
        self.batch_size = batch_size
        self.batches = EpochBatches([len(e.node_ids) for e in self.encoded["train"]], batch_size, seed)

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> TreeTask:
        return cls(
            run.section("model", TreeModelConfig), run.section("data", TreeDataConfig), batch_size, seed, run.tables
        )

    def next_batch(self):
        indices, _ = self.batches.next()
        mine, weight = current().take(indices)  # this process's part (all of it, weight 1, when alone)
        return [self.encoded["train"][i] for i in mine], weight

    def loss(self, batch):
        batch, weight = batch
        inputs = self.encoder.inputs(batch)
        if self.data.node_labels:
            logits = self.model.nodes(inputs)
            target = self.encoder.node_targets(batch, inputs.batch)
            target[inputs.batch.roots] = torch.tensor([e.label for e in batch])
            per_node = torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORED, reduction="sum")
            loss = per_node / len(batch)
        else:
            loss = torch.nn.functional.cross_entropy(self.model(inputs), torch.tensor([e.label for e in batch]))
        figures = {"loss": loss.item(), "tokens": inputs.batch.num_nodes if weight else 0, "weight": weight}
        return loss * weight, figures

    def evaluate(self) -> dict[str, float]:
        return self.validation(score(self.model, self.encoder, self.encoded["val"], world=current()))

    format_scores = ClassifyTask.format_scores

    def tables(self):
        sizes = {k: len(v) for k, v in self.splits.items()}
        first = self.splits["train"][0]
        written = "sentences" if reads_sentences(self.data) else "labelled" if first.tree.label == INNER else "brackets"
        tables = {"vocab": self.vocab.to_json(), "labels": self.labels.to_json(), "sizes": sizes}
        return {**tables, "trees": written}

    def results(self, best: TreeClassifier) -> dict:
        cfg = best.config
        results = {"task": "tree", "model": f"{cfg.cell}" + (f" over {cfg.leaf_encoder}" if cfg.leaf_encoder else "")}
        results["sizes"] = {k: len(v) for k, v in self.splits.items()}
        results["val"] = score(best, self.encoder, self.encoded["val"], by_height=True)
        results["test"] = score(best, self.encoder, self.encoded["test"], by_height=True)
        if self.data.baseline:
            texts = {k: [Example(e.label, " ".join(e.tokens)) for e in v] for k, v in self.splits.items()}
            results.update(baseline_results(texts, self.labels.names))
        return results

    def describe(self) -> str:
        sizes = [len(self.splits[k]) for k in ("train", "val", "test")]
        nodes = sum(len(e.node_ids) for e in self.encoded["train"])
        return (
            f"tree: {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,} trees (train / val / test), {nodes:,} training nodes, "
            f"{len(self.labels)} classes, {len(self.vocab):,} words in the vocabulary"
        )


def load_tree_classifier(out: Path, finite: bool = True) -> tuple[TreeClassifier, TreeEncoder, TreeDataConfig, str]:
    """The best model of a tree run (in eval mode), its encoder, its data section (``finite``:
    as :func:`~rnnlab.tasks.classify.load_classifier`) and how its trees are written: ``brackets``
    (a class for the whole tree), ``labelled`` (a class at every node, read from the brackets'
    labels) or ``sentences`` (parsed)."""
    run = read_config(Path(out), "tree")
    model_cfg, data = run.section("model", TreeModelConfig), run.section("data", TreeDataConfig)
    try:
        vocab, labels = TokenVocab.from_json(run.table("vocab")), Labels.from_json(run.table("labels"))
        model = TreeClassifier(model_cfg)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{run.path} is damaged ({e})") from e
    check_tables(run.path, vocabulary=(len(vocab), model_cfg.vocab_size), labels=(len(labels), model_cfg.num_classes))
    load_best(run.out, model, finite)
    written = run.tables.get("trees") or ("sentences" if reads_sentences(data) else "brackets")
    return model, TreeEncoder(vocab, labels, data.lowercase), data, written


def reads_sentences(data: TreeDataConfig) -> bool:
    """Whether a run's trees are dependency parses of sentences (else bracketed trees)."""
    return data.data in WHOLE_SETS or data.data.lower().endswith(".conllu")
