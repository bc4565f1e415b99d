"""Per-character features of C source: comments, literals, brace depth, ``if`` statements, directives.

Karpathy, Johnson & Fei-Fei (2015) found cells of a model of Linux kernel C that turn on inside
comments and quotes, count brace depth and stay on through an ``if`` statement. A small
hand-written scanner computes the same per character; it never parses, so any text works
(unbalanced input is clamped, never an error). As in :mod:`rnnlab.interpret.features`, the
delimiters belong to what they open and close (both quotes of a string, ``/*`` and ``*/``), a
newline that ends a ``//`` comment or a directive is already outside it, and a count is the
value after reading the character (``{`` counts, ``}`` no longer does).

What is scanned (C11 references are to ISO/IEC 9899:2011):

* comments (§6.4.9): ``/* ... */`` does not nest, so ``/* a /* b */`` ends at the first ``*/``
  and the ``*`` of ``/*`` never starts the ``*/`` (``/*/`` is still open); ``//`` runs to the
  end of the line, and a backslash-newline continues it (line splicing, §5.1.1.2 phase 2,
  happens before comments are recognised). Quotes inside a comment are text.
* string literals ``"..."`` and character literals ``'x'`` (§6.4.5, §6.4.4.4): a backslash escapes
  the next character (``"a\\"b"``, ``'\\''``, ``'\\\\'``); ``/*`` inside a literal is text. A literal
  left open at the end of a line (an error to a compiler) ends there.
* brace depth: ``{`` and ``}`` outside comments and literals, never below 0.
* preprocessor lines (§6.10): a ``#`` first on its line, through its backslash-newline
  continuations.
* ``if`` statements (§6.8.4.1): the keyword ``if`` (not part of a longer name) followed by a
  parenthesised condition. "Inside an if condition" is that condition, both parentheses
  included (parentheses nest; the keyword itself is not marked). "Inside an if body" starts
  right after the condition's ``)`` and runs through the body: a braced block up to its
  matching ``}``; otherwise one statement, up to the ``;`` at the depth it started at, or the
  ``}`` that closes a block opened inside it (``if (a) while (b) { ... }``). Nested ``if``
  statements stay inside their outer body. An ``else`` and its body are not the ``if``'s body
  (the feature is the branch taken when the condition holds); ``else if (...)`` starts a new
  ``if``. Known limits of a scanner without a parser: a brace-less body ending in ``do { } while
  (x);`` ends at the ``}``, and a dangling ``else`` after a brace-less inner ``if`` is left out of
  the outer body; a body holding a compound literal (``if (a) x = (struct s){1};``) ends at its
  ``}``. Keywords on preprocessor lines (``#if``, macro bodies) are not tracked. A directive
  ends at the first newline outside a continuation, even one inside a ``/* */`` comment, and a
  ``#`` after a comment on its line (``/* c */ #define X``) is not taken as a directive.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from torch import Tensor

_NAME = frozenset(string.ascii_letters + string.digits + "_")  # identifier characters (§6.4.2)
_CONDITION, _AWAIT, _BLOCK, _STATEMENT = "condition", "await", "block", "statement"
_CODE, _BLOCK_COMMENT, _LINE_COMMENT, _STRING, _CHAR = range(5)
_FEATURES = {  # the scan's short name -> the feature's name
    "comment": "inside a comment",
    "string": "inside a string",
    "char": "inside a character literal",
    "depth": "brace depth",
    "condition": "inside an if condition",
    "body": "inside an if body",
    "directive": "preprocessor line",
}


@dataclass
class _If:
    """One open ``if``: its phase, and the paren and brace depths where that phase began."""

    phase: str
    parens: int
    braces: int


class _IfTracker:
    """Follows ``if`` statements through the code characters (comments and literals are not fed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.frames: list[_If] = []
        self.parens = self.braces = 0
        self.keyword = False  # just read the keyword ``if``: a ``(`` opens its condition

    def flags(self) -> tuple[bool, bool]:
        """(inside an if condition, inside an if body) now."""
        return any(f.phase == _CONDITION for f in self.frames), any(f.phase != _CONDITION for f in self.frames)

    def token(self, c: str) -> None:
        """A body waiting for its first token gets one: a block if it is ``{``, else a statement."""
        top = self.frames[-1] if self.frames else None
        if top is not None and top.phase == _AWAIT:
            top.phase, top.parens, top.braces = (_BLOCK if c == "{" else _STATEMENT), self.parens, self.braces
        if c != "(":
            self.keyword = False

    def opening(self, i: int) -> None:
        """The code character at ``i`` before the flags are read: anything that opens."""
        c = self.text[i]
        self.token(c)
        if c == "(":
            if self.keyword:
                self.frames.append(_If(_CONDITION, self.parens, self.braces))
                self.keyword = False
            self.parens += 1
        elif c == "{":
            self.braces += 1
        elif c == "f" and self.text[i - 1 : i + 1] == "if" and self._alone(i - 1, i + 1):
            self.keyword = True

    def closing(self, c: str) -> None:
        """The code character ``c`` after the flags are read: a closer belongs to what it closes."""
        if c == ")":
            self.parens = max(0, self.parens - 1)
            top = self.frames[-1] if self.frames else None
            if top is not None and top.phase == _CONDITION and self.parens <= top.parens:
                top.phase = _AWAIT
        elif c == "}":
            self.braces = max(0, self.braces - 1)
            while self.frames and (
                self.frames[-1].braces > self.braces
                or (self.frames[-1].phase in (_BLOCK, _STATEMENT) and self.frames[-1].braces == self.braces)
            ):
                self.frames.pop()
        elif c == ";":  # ends every brace-less body begun at this depth: `if (a) if (b) x;` ends both
            while self.frames and self.frames[-1].phase == _STATEMENT and self._at(self.frames[-1]):
                self.frames.pop()

    def _at(self, frame: _If) -> bool:
        return self.parens <= frame.parens and self.braces <= frame.braces

    def _alone(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is a whole word, not part of a longer identifier."""
        before = start == 0 or self.text[start - 1] not in _NAME
        return before and (end >= len(self.text) or self.text[end] not in _NAME)


def c_scan(text: str) -> dict[str, Tensor]:
    """The C features of ``text`` (see the module docstring), one value per character.

    Args:
        text: any text; C source gives meaningful values.

    Returns:
        ``"inside a comment"``, ``"inside a string"``, ``"inside a character literal"``,
        ``"inside an if condition"``, ``"inside an if body"``, ``"preprocessor line"`` (0/1) and
        ``"brace depth"`` (a count), each a ``(len(text),)`` float tensor.
    """
    n = len(text)
    out = {k: [0.0] * n for k in _FEATURES}  # lists: a tensor's item writes cost more than the scan
    ifs = _IfTracker(text)
    state, depth = _CODE, 0
    opened = 0  # where the block comment being read began
    escaped = directive = False  # a backslash just read inside a literal; on a preprocessor line
    line_start = True  # only blanks so far on this line (a `#` here starts a directive)
    for i, c in enumerate(text):
        spliced = c == "\n" and i > 0 and text[i - 1] == "\\"  # backslash-newline joins two lines
        closer = ""
        if state == _BLOCK_COMMENT:
            out["comment"][i] = 1.0
            if c == "/" and text[i - 1] == "*" and i - 1 > opened + 1:  # the `*` of `/*` closes nothing
                state = _CODE
        elif state == _LINE_COMMENT:
            if c == "\n" and not spliced:
                state = _CODE
            else:
                out["comment"][i] = 1.0
        elif state in (_STRING, _CHAR):
            quote, key = ('"', "string") if state == _STRING else ("'", "char")
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                state = _CODE
            elif c == "\n":  # left open at the end of its line: it ends there
                state = _CODE
            out[key][i] = float(state != _CODE or c == quote)
        elif c == "/" and text[i + 1 : i + 2] == "*":
            state, opened, out["comment"][i] = _BLOCK_COMMENT, i, 1.0
        elif c == "/" and text[i + 1 : i + 2] == "/":
            state, out["comment"][i] = _LINE_COMMENT, 1.0
        elif c in "\"'":
            state = _STRING if c == '"' else _CHAR
            out["string" if c == '"' else "char"][i] = 1.0
            if not directive:
                ifs.token(c)
        elif not c.isspace():
            if c == "#" and line_start:
                directive = True
            depth = depth + 1 if c == "{" else max(0, depth - 1) if c == "}" else depth
            if not directive:  # directives and macro bodies are not statements of the code around them
                ifs.opening(i)
                closer = c
        if c == "\n" and not spliced:
            directive, line_start = False, True
        elif not c.isspace():
            line_start = False
        out["directive"][i], out["depth"][i] = float(directive), float(depth)
        out["condition"][i], out["body"][i] = map(float, ifs.flags())
        if closer:
            ifs.closing(closer)
    return {name: torch.tensor(out[key]) for key, name in _FEATURES.items()}
