"""``rnnlab tree OUT "(MAX 2 9 (MIN 4 7) 0)"``: the class of a tree under a tree classifier.

A run trained on bracketed trees (ListOps, program trees, a file of trees) reads each TREE written
with brackets (for a run whose trees had a class at every node, the inner nodes' labels are not
read: ``(. (. It) (. 's good))`` will do); a run trained on dependency trees (pang-lee, tweets, a
CoNLL-U file) reads a plain English sentence and parses it with the parser of the named sets,
spaCy's small English pipeline. Prints the class at the root with its probability and the next
best; ``--nodes`` also prints the class at every node (a tree cell's run), one node a line,
indented by depth; ``--plot tree.png`` draws the (first) tree with each node's class, coloured by
hidden unit ``--unit K`` if given. ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json

import torch

from rnnlab.commands.common import UsageError, path_arg, texts_of, writable_file


def register(sub) -> None:
    p = sub.add_parser(
        "tree", help="classify trees with a tree classifier (rnnlab train --task tree)", description=__doc__
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a tree classifier")
    p.add_argument("texts", nargs="*", metavar="TREE", help="trees written with brackets (or sentences: see above)")
    p.add_argument("--file", type=path_arg, default=None, help="also read every non-empty line of this file")
    p.add_argument("--nodes", action="store_true", help="print the class at every node")
    p.add_argument("--plot", type=path_arg, default=None, metavar="PNG", help="draw the first tree's node classes")
    p.add_argument("--unit", type=int, default=None, metavar="K", help="colour the drawing by hidden unit K")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _examples(texts: list[str], written: str):
    from rnnlab.data.corpora import DataError
    from rnnlab.data.tree_sets import bracket_example, labelled_example
    from rnnlab.data.trees import TreeExample, parse_tree

    if written == "labelled":
        out = []
        for k, text in enumerate(texts, 1):
            try:
                out.append(labelled_example(parse_tree(text, f"tree {k}")))
            except DataError as e:
                raise UsageError(f"tree {k}: {e}") from e
        return out
    if written != "sentences":
        return [bracket_example(parse_tree(t, f"tree {k}"), "") for k, t in enumerate(texts, 1)]
    from rnnlab.data.dependency import heads_of
    from rnnlab.data.parsed import parse_texts

    return [TreeExample(t, "", heads_of(t)[0]) for t in parse_texts(texts)]


def _check(args, model) -> None:
    if (args.nodes or args.plot) and not model.config.is_tree:
        flag = "--nodes" if args.nodes else "--plot"
        raise UsageError(f"{flag}: {args.run_dir} reads the tokens with --cell {model.config.cell}, not the tree")
    if args.unit is not None:
        if args.plot is None:
            raise UsageError("--unit: colours the drawing; give --plot PNG too")
        if not 0 <= args.unit < model.config.hidden_size:
            raise UsageError(f"--unit: expected a unit from 0 to {model.config.hidden_size - 1}, got {args.unit}")
    if args.plot is not None:
        writable_file("--plot", args.plot, ".png")


@torch.no_grad()
def _nodes(model, encoder, encoded) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per tree: class probabilities ``(n, C)`` and states ``(n, H)`` of its nodes, in :meth:`Tree.nodes` order."""
    from rnnlab.tasks.tree import node_places

    inputs = encoder.inputs(encoded)
    places = node_places(encoded, inputs.batch)
    back = torch.empty_like(places)
    back[places] = torch.arange(len(places))  # the examples' nodes end to end, from the batch's order
    h = model.states(inputs)[0][back]
    sizes = [len(e.node_ids) for e in encoded]
    return list(zip(torch.softmax(model.readout(h), dim=-1).split(sizes), h.split(sizes)))


def run(args) -> int:
    texts = texts_of(args, "tree", "classify", '"(MAX 2 9 (MIN 4 7) 0)"')
    from rnnlab.tasks.tree import check_children, load_tree_classifier, predict

    model, encoder, data, written = load_tree_classifier(args.run_dir)
    _check(args, model)
    encoded = [encoder.encode(e, data.binarize) for e in _examples(texts, written)]
    examples = [e.example for e in encoded]
    check_children(model, [e.tree for e in examples], "tree")
    names = encoder.labels.names
    roots = predict(model, encoder, encoded).exp()
    per_node = _nodes(model, encoder, encoded) if (args.nodes or args.plot) else None
    rows = []
    for k, (example, p) in enumerate(zip(examples, roots)):
        ranked = sorted(zip(names, p.tolist()), key=lambda kv: -kv[1])
        row = {"tree": texts[k], "label": ranked[0][0], "probabilities": dict(ranked)}
        if per_node is not None and args.nodes:
            probs, _ = per_node[k]
            row["nodes"] = [
                {"node": node.label, "depth": d, "label": names[int(q.argmax())], "probability": float(q.max())}
                for node, d, q in zip(example.tree.nodes(), example.tree.depths(), probs)
            ]
        rows.append(row)
    if args.plot is not None:
        from rnnlab.viz.trees import plot_tree

        probs, h = per_node[0]  # type: ignore[index]
        notes = [f"{names[int(q.argmax())]} ({float(q.max()):.2f})" for q in probs]
        values = h[:, args.unit].tolist() if args.unit is not None else None
        unit = f"unit {args.unit}" if args.unit is not None else ""
        plot_tree(examples[0].tree, args.plot, notes, values, title=texts[0][:80], value_name=unit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        shown = "  ".join(f"{n} {p:.3f}" for n, p in list(row["probabilities"].items())[:3])
        print(f"{row['label']}  {shown}  {row['tree']}")
        for node in row.get("nodes", []):
            print(f"  {'  ' * node['depth']}{node['node']}: {node['label']} ({node['probability']:.3f})")
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0
