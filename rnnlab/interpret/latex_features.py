"""Per-character features of LaTeX: inside math, inside a comment, environment depth, brace depth.

A small hand-written scanner (no TeX engine, no parser): any text works, and unbalanced input is
clamped, never an error. As for the other scanners, the delimiters belong to what they open and
close (both ``$`` of ``$x$``, the whole ``\\begin{equation}`` and ``\\end{equation}``), and a
count is the value after reading the character.

Math modes are those of the LaTeX manual (Lamport, *LaTeX: A Document Preparation System*, §3.3
and C.7): ``$...$``, ``\\(...\\)`` and the ``math`` environment in a line; ``$$...$$`` (plain TeX,
still read by LaTeX), ``\\[...\\]``, ``displaymath``, ``equation`` and ``eqnarray`` displayed; and
the amsmath displays (amsmath User's Guide §3: ``align``, ``alignat``, ``flalign``, ``gather``,
``multline``), each with its starred form: :data:`MATH_ENVIRONMENTS`.

* An escaped character is text: ``\\$`` is a dollar sign, outside math or inside it, ``\\%`` a
  percent sign, ``\\{`` and ``\\}`` braces that group nothing, ``\\\\`` a line break.
* ``%`` starts a comment to the end of the line (the newline is outside it). A comment inside
  math stays inside math; nothing in a comment opens or closes anything.
* Text inside math (``\\text{...}``, ``\\mbox{...}``) still counts as math: it sits between the
  math delimiters, and a model reading characters sees it there. A ``$`` inside it opens and a
  second closes inline math nested in the display, so the display goes on after it.
* Closing a mode closes whatever was left open inside it (``\\[ $x \\]`` ends both); a closer
  with nothing of its kind open is text. A blank line ends any math still open: TeX refuses a
  paragraph break in math mode (the TeXbook, ch. 26, "Missing $ inserted"), so a stray ``$``
  does not run on to the end of the file.
* Environment depth counts the ``\\begin{X}`` still without their ``\\end{X}`` (any environment);
  an ``\\end{X}`` closes the innermost open ``X`` and those inside it, and is ignored when no
  ``X`` is open. Brace depth counts ``{`` groups, but not the ``{X}`` of ``\\begin{X}``/``\\end{X}``.
* Not handled: ``\\verb`` and verbatim environments (their insides are scanned as LaTeX), and
  macros that open math (``\\newcommand{\\be}{\\begin{equation}}``). In inline math a ``$``
  inside ``\\text{...}`` closes the math (``$\\text{$x$}$`` marks ``x`` outside).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

#: environments whose body is math (see the module docstring for the sources)
MATH_ENVIRONMENTS = frozenset(
    name + star
    for name in ("math", "displaymath", "equation", "eqnarray", "align", "alignat", "flalign", "gather", "multline")
    for star in ("", "*")
) - {"math*", "displaymath*"}  # LaTeX defines no starred form of these two

_COMMAND = re.compile(r"\\(?:[A-Za-z]+|.)?", re.DOTALL)  # a control word, a control symbol, or a last \\
_ENVIRONMENT = re.compile(r"[ \t]*\{([^{}\n%]*)\}")  # the {name} after \begin or \end
_MATH_CLOSER = {"\\)": "\\(", "\\]": "\\["}


def _close(stack: list[str], opener: str) -> None:
    """Drop the innermost ``opener`` of ``stack`` and everything opened after it; nothing if none."""
    if opener in stack:
        del stack[len(stack) - 1 - stack[::-1].index(opener) :]


def _ends_blank_line(text: str, i: int) -> bool:
    """Whether the newline at ``i`` ends a line of nothing but blanks (a paragraph break)."""
    start = text.rfind("\n", 0, i)
    return start >= 0 and not text[start + 1 : i].strip(" \t")


def latex_scan(text: str) -> dict[str, Tensor]:
    """The LaTeX features of ``text`` (see the module docstring), one value per character.

    Args:
        text: any text; LaTeX source gives meaningful values.

    Returns:
        ``"inside math"`` and ``"inside a comment"`` (0/1), ``"environment depth"`` and
        ``"brace depth"`` (counts), each a ``(len(text),)`` float tensor.
    """
    n = len(text)
    math, comment, env_depth, brace_depth = ([0.0] * n for _ in range(4))  # lists: cheaper to write than tensors
    modes: list[str] = []  # open math delimiters and math environments, innermost last
    environments: list[str] = []
    braces = 0

    def mark(start: int, end: int) -> None:
        math[start:end] = [float(bool(modes))] * (end - start)
        env_depth[start:end] = [float(len(environments))] * (end - start)
        brace_depth[start:end] = [float(braces)] * (end - start)

    i = 0
    while i < n:
        c, end = text[i], i + 1
        if c == "%":
            end = text.find("\n", i) % (n + 1)  # -1 (no newline) becomes n
            mark(i, end)
            comment[i:end] = [1.0] * (end - i)
        elif c == "\\":
            end = _COMMAND.match(text, i).end()
            word = text[i:end]
            name = _ENVIRONMENT.match(text, end) if word in ("\\begin", "\\end") else None
            if name is not None:
                end, env = name.end(), name[1].strip()
                if word == "\\begin":  # an opener is inside what it opens: change, then mark
                    environments.append(env)
                    modes += [env] if env in MATH_ENVIRONMENTS else []
                    mark(i, end)
                else:  # a closer too: mark, then change
                    mark(i, end)
                    _close(environments, env)
                    _close(modes, env)
            elif word in ("\\(", "\\["):
                modes.append(word)
                mark(i, end)
            else:
                mark(i, end)
                if word in _MATH_CLOSER:
                    _close(modes, _MATH_CLOSER[word])
        elif c == "$":
            # `$a$$b$` is two inline maths: an open `$` is closed by one dollar before `$$` is read
            dollars = "$" if modes[-1:] == ["$"] or not text.startswith("$$", i) else "$$"
            end = i + len(dollars)
            if modes[-1:] == [dollars]:
                mark(i, end)
                modes.pop()
            else:
                modes.append(dollars)
                mark(i, end)
        else:
            if c == "\n" and _ends_blank_line(text, i):
                modes.clear()
            braces = braces + 1 if c == "{" else max(0, braces - 1) if c == "}" else braces
            mark(i, end)
        i = end
    return {
        "inside math": torch.tensor(math),
        "inside a comment": torch.tensor(comment),
        "environment depth": torch.tensor(env_depth),
        "brace depth": torch.tensor(brace_depth),
    }
