"""Per-character features of a text, for finding hidden units that track them.

Karpathy, Johnson & Fei-Fei (2015, "Visualizing and understanding recurrent networks") found
character-model cells that track quotes, line length, indentation and comments. Each feature
here gives one number per character of the text, computed by a small scanner (no parser, so it
works on any text and never fails): 1/0 for the yes/no features, a count for the others.
The value at a character describes the position *after* reading it, as the hidden state does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import Tensor

_SPEAKER = re.compile(r"^[A-Z][\w' .,-]{0,40}:$")  # a speaker line of the plays: "Hippolyta:"


def python_scan(text: str) -> dict[str, Tensor]:
    """Inside a string literal, inside a comment, and bracket depth, for Python-like code.

    Strings: ``'...'``, ``"..."`` and triple-quoted, with backslash escapes; a one-line string
    ends at the newline. Comments run from ``#`` (outside strings) to the end of the line.
    Brackets ``( [ {`` outside strings and comments nest.
    """
    n = len(text)
    in_string, in_comment, depth = torch.zeros(n), torch.zeros(n), torch.zeros(n)
    quote, comment, level, i = "", False, 0, 0
    while i < n:
        c = text[i]
        if comment:
            if c == "\n":
                comment = False
            in_comment[i] = float(comment)
        elif quote:
            in_string[i] = 1.0
            if c == "\\" and i + 1 < n:
                in_string[i + 1] = 1.0
                depth[i], depth[i + 1] = level, level
                i += 2
                continue
            if text.startswith(quote, i):
                if len(quote) == 3:
                    in_string[i : i + 3] = 1.0
                    depth[i : i + 3] = level
                    i += 3
                    quote = ""
                    continue
                quote = ""
            elif c == "\n" and len(quote) == 1:
                quote, in_string[i] = "", 0.0
        elif c == "#":
            comment, in_comment[i] = True, 1.0
        elif c in "'\"":
            quote = c * 3 if text.startswith(c * 3, i) else c
            in_string[i : i + len(quote)] = 1.0
            depth[i : i + len(quote)] = level
            i += len(quote)
            continue
        elif c in "([{":
            level += 1
        elif c in ")]}":
            level = max(0, level - 1)
        depth[i] = level
        i += 1
    return {"inside a string": in_string, "inside a comment": in_comment, "bracket depth": depth}


def line_layout(text: str, tab_width: int = 1) -> dict[str, Tensor]:
    """Position in the line and the line's indentation, per character.

    Args:
        text: any text.
        tab_width: columns a leading tab advances to the next multiple of; 1 counts each leading
            space or tab as one (the plays, Python). C code indents with tabs 8 columns wide (the
            Linux kernel's coding style), so its set gives 8: a tab and eight spaces then agree.

    Returns:
        ``"position in line"``: characters read since the newline (one per step of the model, so
        a tab is one); ``"indentation"``: the columns of the line's leading spaces and tabs.
    """
    n = len(text)
    position, indent = torch.zeros(n), torch.zeros(n)
    start = 0
    for line in text.split("\n"):
        end = start + len(line)  # the newline, if any, sits at index end
        lead = 0
        for c in line[: len(line) - len(line.lstrip(" \t"))]:
            lead = (lead // tab_width + 1) * tab_width if c == "\t" else lead + 1
        span = slice(start, min(end + 1, n))
        position[span] = torch.arange(1, span.stop - start + 1, dtype=torch.float32)
        indent[span] = lead
        if end < n:
            position[end] = 0.0  # after a newline the next line starts at column 0
        start = end + 1
    return {"position in line": position, "indentation": indent}


def speaker_lines(text: str) -> dict[str, Tensor]:
    """Whether each character's line is a speaker line of the plays (``"Hippolyta:"``)."""
    speaker = torch.zeros(len(text))
    start = 0
    for line in text.split("\n"):
        speaker[start : start + len(line) + 1] = float(bool(_SPEAKER.match(line)))  # with its newline
        start += len(line) + 1
    return {"speaker line": speaker}


def line_features(text: str) -> dict[str, Tensor]:
    """Position in the line, the line's indentation, and whether the line is a speaker line."""
    return {**line_layout(text), **speaker_lines(text)}


def quote_features(text: str) -> dict[str, Tensor]:
    """Inside double quotation marks (``"..."`` or curly quotes), across lines, as in prose."""
    inside, state = torch.zeros(len(text)), False
    for i, c in enumerate(text):
        was = state
        if c in '"\u201c\u201d':
            state = not state if c == '"' else c == "\u201c"
        inside[i] = float(state or was)  # both quotation marks count as inside, as for strings
    return {"inside quotation marks": inside}


#: name -> function of the text giving a dict of features
FEATURE_SETS: dict[str, Callable[[str], dict[str, Tensor]]] = {
    "python": python_scan,
    "lines": line_features,
    "quotes": quote_features,
}


def all_features(text: str) -> dict[str, Tensor]:
    """Every feature of :data:`FEATURE_SETS` for ``text``: name -> ``(len(text),)`` float tensor."""
    features: dict[str, Tensor] = {}
    for compute in FEATURE_SETS.values():
        features.update(compute(text))
    return features


def is_binary(values: Tensor) -> bool:
    """Whether a feature takes only the values 0 and 1."""
    return bool(((values == 0) | (values == 1)).all())
