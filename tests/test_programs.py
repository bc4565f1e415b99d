"""The arity task over Python syntax trees: arities, body trees, filtering, deduplication, splits."""

from __future__ import annotations

import ast
import textwrap

import pytest

from rnnlab.data.corpora import DataError
from rnnlab.data.programs import (
    CLASSES,
    SPLITS,
    arity,
    arity_class,
    function_tree,
    program_examples,
    programs_from_sources,
    source_functions,
)
from rnnlab.data.trees import bracket_tokens, parse_tree, to_text


def _function(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    module = ast.parse(textwrap.dedent(source))
    return next(n for n in ast.walk(module) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("f()", 0),
        ("f(a)", 1),
        ("f(self, a, b=1, c=2)", 4),
        ("f(*args)", 1),
        ("f(**kwargs)", 1),
        ("f(a, /, b, *, c, d=1)", 4),
        ("f(a, b, /)", 2),
        ("f(*, k)", 1),
        ("f(self, *args, key=None, **kwargs)", 4),
        ("f(cls, a, /, b=0, *rest, k, **kw)", 6),
    ],
)
def test_arity_counts_every_kind_of_parameter(signature, expected):
    assert arity(_function(f"def {signature}:\n    return 1\n")) == expected
    assert arity(_function(f"async def {signature}:\n    return 1\n")) == expected
    assert arity_class(expected) == (str(expected) if expected < 4 else "4+") and arity_class(9) == "4+"


def test_body_tree_leaves_out_signature_decorators_and_docstring():
    node = _function(
        '''
        @cached(size=3)
        def shout(self, words: list[str], *, times: int = 2) -> str:
            """Say it louder."""
            return words.upper()
        '''
    )
    tree = function_tree(node)
    text = to_text(tree)
    assert text == "(FunctionDef (Return (Call (Attribute.Load (Name.Load words) upper))))"
    for gone in ("shout", "cached", "self", "times", "str", "arguments", "Say"):
        assert gone not in text
    assert function_tree(_function("async def g(x):\n    await x\n")).label == "AsyncFunctionDef"


def test_nested_definitions_stay_whole_in_the_body():
    outer = _function(
        """
        def outer(a):
            @wrap
            def inner(b, c=None) -> int:
                '''kept: a nested docstring is part of the body'''
                return b
            class Box:
                pass
            return inner(a)
        """
    )
    text = to_text(function_tree(outer))
    assert "(FunctionDef inner (arguments (arg b) (arg c) (Constant None))" in text
    assert "(Constant <str>)" in text and "(Name.Load wrap)" in text and "(Name.Load int)" in text
    assert "(ClassDef Box Pass)" in text
    found = source_functions(textwrap.dedent(ast.unparse(outer)))
    assert [label for _, label in found] == ["1", "2"]  # outer, then inner: nested ones are examples too
    assert to_text(found[1][0]) == "(FunctionDef (Return (Name.Load b)))"


def test_binding_and_reading_are_told_apart_and_constants_are_coarse():
    node = _function(
        """
        def f(x):
            y = x
            y.count += 1
            del y
            a, b = "s", b"b"
            return 3, 4.5, 1j, True, False, None, ..., f"{x!r}"
        """
    )
    tree = function_tree(node)
    text = to_text(tree)
    assert "(Assign (Name.Store y) (Name.Load x))" in text
    assert "(AugAssign (Attribute.Store (Name.Load y) count) Add (Constant <int>))" in text
    assert "(Delete (Name.Del y))" in text
    pair = "(Assign (Tuple.Store (Name.Store a) (Name.Store b)) (Tuple.Load (Constant <str>) (Constant <bytes>)))"
    assert pair in text
    tail = "(Constant <int>) (Constant <float>) (Constant <complex>) (Constant True) (Constant False) (Constant None)"
    assert tail + " (Constant ...) (JoinedStr (FormattedValue (Name.Load x)))" in text
    assert not any(label in ("Load", "Store", "Del") for label in (n.label for n in tree.nodes()))


def test_identifiers_of_imports_keywords_handlers_and_scopes_are_leaves():
    node = _function(
        """
        def f(n):
            global G
            from os import path as p
            try:
                g(key=n)
            except OSError as err:
                raise err
        """
    )
    text = to_text(function_tree(node))
    assert "(Global G)" in text and "(ImportFrom os (alias path p))" in text
    assert "(keyword key (Name.Load n))" in text and "(ExceptHandler (Name.Load OSError) err" in text


def test_trees_round_trip_and_tokens_are_the_bracketed_text():
    source = """
    class Queue:
        def put(self, item, block=True, timeout=None):
            with self.lock:
                if not block and self.full():
                    raise Full
                self.items.append(item)
                return [i * 2 for i in range(timeout or 3) if i % 2]
    """
    tree = function_tree(_function(source))
    assert parse_tree(to_text(tree)) == tree
    tokens = bracket_tokens(tree)
    assert tokens[:3] == ["(", "FunctionDef", "("] and tokens[-1] == ")"
    assert " ".join(tokens).replace("( ", "(").replace(" )", ")") == to_text(tree)
    assert all(" " not in n.label and "(" not in n.label and ")" not in n.label for n in tree.nodes())


def test_trivial_bodies_and_big_bodies_are_dropped():
    source = '''
    def a(self):
        pass
    def b(self):
        """Only a docstring."""
    def c(self, x):
        ...
    def d(self, x):
        """Abstract."""
        raise NotImplementedError("subclasses")
    def e(self):
        pass
        raise NotImplementedError
    def kept(self, x):
        raise ValueError(x)
    def big(x):
        return x + x + x + x + x + x + x + x + x + x + x + x
    '''
    found = source_functions(textwrap.dedent(source), max_nodes=20)
    assert [to_text(t) for t, _ in found] == ["(FunctionDef (Raise (Call (Name.Load ValueError) (Name.Load x))))"]
    assert len(source_functions(textwrap.dedent(source))) == 2


def test_duplicates_are_kept_once_and_conflicts_dropped_everywhere():
    sources = {
        "a.py": "def f(self):\n    return self.x\ndef g(p, q):\n    return p + q\ndef h(x):\n    return x\n",
        "b.py": "def f2(self):\n    '''Same body.'''\n    return self.x\ndef g2(p, q, r):\n    return p + q\n",
        "c.py": "def f3(this):\n    return self.x\ndef k(x):\n    return -x\n",
    }
    splits, counts = programs_from_sources(sources, seed=3)
    examples = [e for split in SPLITS for e in splits[split]]
    texts = sorted(to_text(e.tree) for e in examples)
    assert texts == [
        "(FunctionDef (Return (Attribute.Load (Name.Load self) x)))",  # three copies, all class 1: kept once
        "(FunctionDef (Return (Name.Load x)))",
        "(FunctionDef (Return (UnaryOp USub (Name.Load x))))",
    ]  # p + q is in classes 2 and 3: dropped from both files
    assert (counts.functions, counts.duplicates, counts.conflicting, counts.examples) == (7, 2, 2, 3)


def test_files_that_do_not_parse_are_counted_and_nothing_left_is_an_error():
    sources = {"old.py": "print 'hello'\n", "new.py": "def f(a):\n    return a\n"}
    splits, counts = programs_from_sources(sources)
    assert counts.unparsed == ["old.py"] and counts.examples == 1
    with pytest.raises(DataError, match="no function left"):
        programs_from_sources({"old.py": "print 'hello'\n", "empty.py": "def f():\n    pass\n"})


def test_splits_go_by_file_and_follow_the_seed():
    sources = {f"m{i}.py": f"def f{i}(a):\n    return a * {i} + q{i}\n" for i in range(40)}
    splits, _ = programs_from_sources(sources, seed=1)
    assert [len(splits[s]) for s in SPLITS] == [32, 4, 4]
    again, _ = programs_from_sources(sources, seed=1)
    other, _ = programs_from_sources(sources, seed=2)
    key = [[to_text(e.tree) for e in splits[s]] for s in SPLITS]
    assert key == [[to_text(e.tree) for e in again[s]] for s in SPLITS]
    assert key != [[to_text(e.tree) for e in other[s]] for s in SPLITS]


@pytest.mark.slow
def test_the_standard_library_gives_disjoint_splits_by_file(monkeypatch):
    import rnnlab.data.programs as programs

    seen: dict[str, str] = {}
    real = programs.source_functions

    def remember(source, max_nodes=300, counts=None):  # which file each tree text comes from
        found = real(source, max_nodes, counts)
        for tree, _ in found:
            seen.setdefault(to_text(tree), source)
        return found

    monkeypatch.setattr(programs, "source_functions", remember)
    splits = program_examples(seed=0)
    sizes = {s: len(splits[s]) for s in SPLITS}
    total = sum(sizes.values())
    assert total > 5000 and 0.7 < sizes["train"] / total < 0.9 and min(sizes.values()) > 0.05 * total
    files = {s: {id(seen[to_text(e.tree)]) for e in splits[s]} for s in SPLITS}
    assert not files["train"] & files["valid"] and not files["train"] & files["test"]
    assert not files["valid"] & files["test"]
    texts = [to_text(e.tree) for s in SPLITS for e in splits[s]]
    assert len(set(texts)) == len(texts)
    assert all(e.label in CLASSES and len(list(e.tree.nodes())) <= 300 for s in SPLITS for e in splits[s])
