"""The parallel data set ``bible-en-es``: the King James Bible against the Reina-Valera 1909.

Both texts come from Debian packages of SWORD modules, fetched and checked by
:mod:`rnnlab.data.debian` and read by :mod:`rnnlab.data.sword`: ``sword-text-kjv`` 14.3-1 (module
``engKJV2006eb``, the KJV of 1769, public domain outside the UK) and ``sword-text-sparv`` 2.60-1
(module ``spaRV1909eb``, public domain). Both modules use the KJV versification, so entry ``i`` of
one verse index is the same verse as entry ``i`` of the other: pairs are aligned by that position,
verse by verse. Heading entries, and places where either text has no words (the RV1909 lacks a few
verses, e.g. Job 38:39-40), are left out.

The RV1909 prints the first word of each chapter in capitals (``EN el principio``, ``Y ACONTECIÓ``);
that word is set in ordinary case here (``En el principio``), as the rest of the text is.

The split is fixed, the same on every machine and for every seed: a verse goes to ``test`` when
the first 8 bytes of ``sha256("bible-en-es:" + position)``, read as a big-endian integer, are 0 or
1 modulo 100, to ``valid`` when they are 2 or 3, and to ``train`` otherwise, where position is
``"ot:INDEX"`` or ``"nt:INDEX"`` (testament and entry of the verse index; Genesis 1:1 is
``"ot:4"``). That is about 2% of the verses each for test and valid, spread over every book.

The decoded pairs are kept in ``$RNNLAB_CACHE/bible/bible-en-es.json`` (written atomically, tied
to the packages' SHA-256) so that later loads skip the decompression and markup stripping.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from rnnlab.data import debian, sword
from rnnlab.data.corpora import DataError
from rnnlab.data.packages import cache_root
from rnnlab.fileio import atomic_write_bytes

NAME = "bible-en-es"
#: (Debian package, version, SWORD module) of each side
ENGLISH = ("sword-text-kjv", "14.3-1", "engKJV2006eb")
SPANISH = ("sword-text-sparv", "2.60-1", "spaRV1909eb")
SPLITS = ("train", "valid", "test")
_FORMAT = 1  # version of the cached JSON; bump when the text cleaning changes
_HINT = "or pass English-Spanish pairs as a TSV with --data"
_SWORD = "usr/share/sword/"
# The capitalised first word of a chapter, after an optional opening mark and one-letter word ("Y", "E").
_DROP_CAP = re.compile(r"^(\W*(?:[A-ZÁÉÍÓÚÑÜ]\s+)?)([A-ZÁÉÍÓÚÑÜ]{2,})\b")


def cache_file() -> Path:
    """Where the decoded pairs are kept."""
    return cache_root() / "bible" / f"{NAME}.json"


def split_of(testament: str, index: int) -> str:
    """The split of the verse at ``index`` of ``testament``'s verse index (see the module's docstring).

    Args:
        testament: ``"ot"`` or ``"nt"``.
        index: the verse's entry in the verse index.

    Returns:
        ``"train"``, ``"valid"`` or ``"test"``.
    """
    digest = hashlib.sha256(f"{NAME}:{testament}:{index}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "test" if bucket < 2 else "valid" if bucket < 4 else "train"


def read_module(files: dict[str, bytes], module: str) -> list[sword.Verse]:
    """The verses of the zText ``module`` among a package's files.

    Args:
        files: path inside the package -> bytes (from :func:`rnnlab.data.debian.deb_files`).
        module: the module's name, e.g. ``"engKJV2006eb"``.

    Returns:
        The module's verse index entries in order (see :func:`rnnlab.data.sword.read_module`).

    Raises:
        DataError: no such module, or not a zText module compressed with zlib.
    """
    conf_name = f"{_SWORD}mods.d/{module.lower()}.conf"
    conf_path = next((path for path in files if path.lower() == conf_name), None)
    if conf_path is None:
        raise DataError(f"data: the package has no SWORD module {module} ({conf_name})")
    conf = sword.read_conf(files[conf_path])
    if conf.get("ModDrv", "").lower() != "ztext" or conf.get("CompressType", "ZIP").upper() != "ZIP":
        raise DataError(f"data: {module} is a {conf.get('ModDrv')} module, not zText with ZIP compression")
    folder = _SWORD + conf.get("DataPath", "").removeprefix("./").rstrip("/") + "/"
    mine = {path.removeprefix(folder): data for path, data in files.items() if path.startswith(folder)}
    return sword.read_module(mine, conf.get("Encoding", "UTF-8"), where=module)


def _ordinary_case(text: str) -> str:
    return _DROP_CAP.sub(lambda m: m.group(1) + m.group(2).capitalize(), text, count=1)


def align(english: list[sword.Verse], spanish: list[sword.Verse]) -> dict[str, list[tuple[str, str]]]:
    """Pair the verses of two KJV-versified modules by position and split them.

    Args:
        english: the English module's entries.
        spanish: the Spanish module's entries.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` of (English, Spanish) pairs, in
        versification order, without headings and places where either side is empty.

    Raises:
        DataError: the two modules do not have the same verse index (different versifications).
    """
    if [(v.testament, v.index) for v in english] != [(v.testament, v.index) for v in spanish]:
        raise DataError(f"data: the verse indexes of {ENGLISH[2]} and {SPANISH[2]} differ; they cannot be aligned")
    pairs: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for en, es in zip(english, spanish, strict=True):
        if (en.book and not en.verse) or not en.text or not es.text:
            continue  # a heading entry, or a verse one of the texts lacks
        text = _ordinary_case(es.text) if en.verse == 1 else es.text
        pairs[split_of(en.testament, en.index)].append((en.text, text))
    return pairs


def _pins() -> dict[str, str]:
    return {f"{p}={v}": debian.PINS[p, v][1] for p, v, _ in (ENGLISH, SPANISH)}


def _read_cache(path: Path) -> dict[str, list[tuple[str, str]]] | None:
    """The pairs kept at ``path``, or None if there are none, or for other packages or cleaning."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("format") != _FORMAT or kept.get("pins") != _pins():
            return None
        pairs = {split: [(en, es) for en, es in kept["pairs"][split]] for split in SPLITS}
        return pairs if all(isinstance(t, str) for s in pairs.values() for pair in s for t in pair) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or damaged: decode the packages again and rewrite it


def _write_cache(path: Path, pairs: dict[str, list[tuple[str, str]]]) -> None:
    """Write the pairs atomically: a process reading them at the same time sees all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"format": _FORMAT, "pins": _pins(), "pairs": pairs}
    atomic_write_bytes(path, json.dumps(kept, ensure_ascii=False).encode("utf-8"))


def load_bible_en_es(downloader: debian.Downloader | None = None) -> dict[str, list[tuple[str, str]]]:
    """The ``bible-en-es`` pairs: KJV English and RV1909 Spanish, verse by verse, in a fixed split.

    The first call fetches the two Debian packages (``apt-get download``, checked against their
    pinned SHA-256) and decodes them; later calls read the decoded pairs from the cache.

    Args:
        downloader: passed to :func:`rnnlab.data.debian.fetch` (tests inject one).

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``, each a list of (English, Spanish)
        verse pairs in Bible order; about 31,000 pairs in all, 2% each in valid and test.

    Raises:
        DataError: a package cannot be fetched (the message says how to get it by hand), does not
            have its pinned SHA-256, or does not hold the expected module.
    """
    path = cache_file()
    kept = _read_cache(path)
    if kept is not None:
        return kept
    sides = []
    for package, version, module in (ENGLISH, SPANISH):
        files = debian.deb_files(package, version, _SWORD, downloader=downloader, hint=_HINT)
        sides.append(read_module(files, module))
    pairs = align(*sides)
    _write_cache(path, pairs)
    return pairs
