"""What ``units``, ``visualize`` and ``serve`` read: a character model from its run directory and
the text it is run over."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnlab.commands.common import UsageError
from rnnlab.data.corpora import load_corpus
from rnnlab.data.vocab import CharVocab
from rnnlab.interpret.feature_sets import Choice, FeatureSetError, choose
from rnnlab.interpret.study import Study, study
from rnnlab.models.language_model import LanguageModel, ModelConfig
from rnnlab.tasks.lm import load_model


def load_char_model(run_dir: Path) -> tuple[LanguageModel, CharVocab, ModelConfig, str]:
    """The best model of a character-level run.

    Args:
        run_dir: the run directory (the ``OUT`` argument).

    Returns:
        ``(model, vocab, model_config, data)``: ``data`` is the run's corpus (its ``--data``).

    Raises:
        UsageError: no such directory, or a word-level run (the unit features are per character).
        ValueError: a run that cannot be read.
    """
    if not Path(run_dir).is_dir():
        raise UsageError(f"OUT: {run_dir} is not a run directory")
    model, vocab, cfg, data, _ = load_model(Path(run_dir))
    if vocab.unit != "char":
        raise UsageError(f"OUT: {run_dir} is a {vocab.unit}-level model; the unit features are per character")
    return model, vocab, cfg, data.data


def read_text(spec: str, chars: int) -> str:
    """At most ``chars`` characters of the ``--text`` corpus ``spec`` (a file or a named corpus).

    Raises:
        UsageError: a text that cannot be read, named by its flag.
    """
    try:
        return load_corpus(spec)[:chars]
    except ValueError as e:
        raise UsageError(f"--text: {str(e).removeprefix('data: ')}") from e


@dataclass
class Prepared:
    """A run's model and the text and feature set it is studied with."""

    model: LanguageModel
    vocab: CharVocab
    config: ModelConfig
    text: str
    choice: Choice


def prepare(run_dir: Path, text_spec: str, chars: int, features: str = "auto") -> Prepared:
    """Load the model of ``run_dir``, read its ``--text`` and choose its ``--features``.

    Args:
        run_dir: a character-level run directory.
        text_spec: the ``--text`` corpus.
        chars: read at most this many characters of it.
        features: ``auto`` or a name of :data:`rnnlab.interpret.feature_sets.SETS`.

    Returns:
        What :func:`rnnlab.interpret.study.study` needs.

    Raises:
        UsageError: see :func:`load_char_model` and :func:`read_text` (the run is read first),
            and a feature set that does not fit the run (:func:`rnnlab.interpret.feature_sets.choose`).
    """
    model, vocab, cfg, data = load_char_model(run_dir)
    text = read_text(text_spec, chars)
    try:
        choice = choose(features, data, list(vocab.chars), text, f"the model of {run_dir}")
    except FeatureSetError as e:
        raise UsageError(str(e)) from e
    return Prepared(model, vocab, cfg, text, choice)


def study_run(run_dir: Path, text_spec: str, chars: int, top: int, features: str = "auto") -> Study:
    """:func:`rnnlab.interpret.study.study` of the model of ``run_dir`` over its ``--text``.

    Args:
        run_dir: a character-level run directory.
        text_spec: the ``--text`` corpus.
        chars: read at most this many characters of it.
        top: units kept per feature.
        features: the ``--features`` set (``auto`` chooses by the run's corpus).

    Returns:
        The study.

    Raises:
        UsageError: see :func:`prepare`.
    """
    run = prepare(run_dir, text_spec, chars, features)
    return study(run.model, run.vocab, run.text, top, run.choice)
