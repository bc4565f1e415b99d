"""The library's layers import in one direction: ``viz``, ``interpret`` and ``diagnose`` take models
and records, never run directories, so none of them imports ``rnnlab.train``, ``rnnlab.tasks``,
``rnnlab.runs`` or ``rnnlab.commands``; ``viz`` draws what ``interpret`` and ``diagnose`` compute, so
neither of those imports ``viz``; and the training loop and the tasks emit records and never draw,
so neither imports ``viz`` or ``commands``.

The modules are read as source (every import statement, including those inside functions and
under ``TYPE_CHECKING``), not imported: an import that runs only on some path still counts.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnnlab"
RUNS = ("rnnlab.train", "rnnlab.tasks", "rnnlab.runs", "rnnlab.commands")
FORBIDDEN = {
    "viz": RUNS,
    "interpret": (*RUNS, "rnnlab.viz"),
    "diagnose": (*RUNS, "rnnlab.viz"),
    "train": ("rnnlab.viz", "rnnlab.commands", "rnnlab.tasks"),
    "tasks": ("rnnlab.viz", "rnnlab.commands"),
}


def imported(source: str, module: str) -> set[str]:
    """Every module name that ``source`` (the text of ``module``, dotted) imports, anywhere in it.

    ``from a import b`` counts as importing both ``a`` and ``a.b`` (``b`` may be a submodule);
    relative imports are resolved against ``module``'s package; ``importlib.import_module`` and
    ``__import__`` with a literal name count too.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def package_imports(package: str) -> list[tuple[str, str]]:
    """``(file, imported name)`` for every import in the modules of ``rnnlab/<package>``."""
    found = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        file = path.relative_to(PACKAGE.parent)
        module = ".".join(file.with_suffix("").parts)
        found += [(str(file), name) for name in sorted(imported(path.read_text(encoding="utf-8"), module))]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_imports_nothing_its_layer_forbids(package):
    found = [
        f"{file}: {name}"
        for file, name in package_imports(package)
        if any(_within(name, f) for f in FORBIDDEN[package])
    ]
    assert found == []


def test_interpret_and_diagnose_do_not_import_each_other_both_ways():
    """With neither importing viz, this is what keeps the three packages free of a cycle."""
    ways = [("interpret", "diagnose"), ("diagnose", "interpret")]
    reached = [any(_within(name, f"rnnlab.{b}") for _, name in package_imports(a)) for a, b in ways]
    assert not all(reached)


@pytest.mark.parametrize(
    "source",
    [
        "from rnnlab.train.checkpoint import load_model\n",
        "import rnnlab.train.data as data\n",
        "from rnnlab import train\n",
        "def f():\n    from rnnlab.train import task_loop\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rnnlab.train import x\n",
        "from ..train import checkpoint\n",
        "import importlib\nimportlib.import_module('rnnlab.train.data')\n",
    ],
)
def test_every_way_of_spelling_an_import_is_seen(source):
    """The check above can fail: each spelling, here in a module of rnnlab.viz, is found."""
    assert any(_within(name, "rnnlab.train") for name in imported(source, "rnnlab.viz.example"))


def test_a_name_that_only_begins_alike_is_not_taken_for_the_package():
    assert not any(_within(name, "rnnlab.train") for name in imported("import rnnlab.trainer\n", "rnnlab.viz.x"))
