"""What ``units``, ``visualize`` and ``serve`` read: a character model from its run directory and
the text it is run over."""

from __future__ import annotations

from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.data.corpora import load_corpus
from rnnlab.data.vocab import CharVocab
from rnnlab.interpret.study import Study, study
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.tasks.lm import load_model


def load_char_model(run_dir: Path) -> tuple[LanguageModel, CharVocab, ModelConfig]:
    """The best model of a character-level run.

    Args:
        run_dir: the run directory (the ``OUT`` argument).

    Returns:
        ``(model, vocab, model_config)``.

    Raises:
        UsageError: no such directory, or a word-level run (the unit features are per character).
        ValueError: a run that cannot be read.
    """
    if not Path(run_dir).is_dir():
        raise UsageError(f"OUT: {run_dir} is not a run directory")
    model, vocab, cfg, _, _ = load_model(Path(run_dir))
    if vocab.unit != "char":
        raise UsageError(f"OUT: {run_dir} is a {vocab.unit}-level model; the unit features are per character")
    return model, vocab, cfg


def read_text(spec: str, chars: int) -> str:
    """At most ``chars`` characters of the ``--text`` corpus ``spec`` (a file or a named corpus).

    Raises:
        UsageError: a text that cannot be read, named by its flag.
    """
    try:
        return load_corpus(spec)[:chars]
    except ValueError as e:
        raise UsageError(f"--text: {str(e).removeprefix('data: ')}") from e


def study_run(run_dir: Path, text_spec: str, chars: int, top: int) -> Study:
    """:func:`rnnlab.interpret.study.study` of the model of ``run_dir`` over its ``--text``.

    Args:
        run_dir: a character-level run directory.
        text_spec: the ``--text`` corpus.
        chars: read at most this many characters of it.
        top: units kept per feature.

    Returns:
        The study.

    Raises:
        UsageError: see :func:`load_char_model` and :func:`read_text`; the run is read first.
    """
    model, vocab, _ = load_char_model(run_dir)
    return study(model, vocab, read_text(text_spec, chars), top)
