"""The flags ``units``, ``visualize`` and ``serve`` share, and what their help says of the feature sets."""

from __future__ import annotations

from rnnlab.commands.common import UsageError, path_arg

FEATURE_SETS_HELP = """
``--features`` picks the set; ``auto`` (the default) chooses by the run's corpus. ``c`` (for
``linux`` and ``.c``/``.h`` files): inside a comment, a string literal or a character literal,
brace depth, inside an ``if`` condition, inside an ``if`` body, preprocessor line. ``latex``
(``latex``, ``.tex``): inside math, inside a comment, environment depth, brace depth. ``python``
(``python-stdlib``, ``.py``): inside a string, inside a comment, bracket depth, inside quotation
marks. ``prose`` (``shakespeare``): inside quotation marks, speaker line. ``all``: the general
features of any text (the Python scan, lines, quotes), used when neither the corpus nor the text
read tells its kind. Every set adds the position in the line and the indentation (in ``c`` a tab
counts 8 columns).

A set is refused when the run's corpus is known, by its name or its files' suffixes, to be of
another kind (``--features latex`` for a model of ``linux``; ``all`` fits every corpus), or when
the model never saw the characters the set is about (``$`` and ``\\`` for ``latex``).
"""


def described(doc: str) -> str:
    """A command's description: its docstring, then the feature sets."""
    return doc.rstrip() + "\n" + FEATURE_SETS_HELP


def add_text_flags(p) -> None:
    """The flags ``units``, ``visualize`` and ``serve`` share."""
    from rnnlab.interpret.feature_sets import CHOICES

    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a character model")
    p.add_argument(
        "--text", required=True, help="text to read (a file, or shakespeare / python-stdlib / linux / latex)"
    )
    p.add_argument("--chars", type=int, default=20_000, help="read at most this many characters of it")
    p.add_argument("--top", type=int, default=5, help="units listed per feature")
    p.add_argument(
        "--features",
        choices=CHOICES,
        default="auto",
        help="feature set: c, latex, python, prose, all, or auto (by the run's corpus; the default)",
    )


def check_text_flags(args) -> None:
    """Refuse a ``--chars`` or ``--top`` below 1."""
    for name in ("chars", "top"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
