"""A reader of SWORD zText Bible modules, straight from the bytes of their files.

A SWORD module is a ``mods.d/NAME.conf`` file (INI-like ``Key=Value`` lines under a ``[NAME]``
section) and, for the zText driver, three files per testament (``ot`` and ``nt``) in its ``DataPath``.
Their layout, as written by SWORD's ``zVerse`` class and checked here against the KJV and RV1909
modules of Debian (all integers little-endian):

- ``.bzs``, the block index: 12 bytes a block, uint32 offset into ``.bzz``, uint32 compressed size,
  uint32 uncompressed size;
- ``.bzv``, the verse index: 10 bytes an entry, uint32 block number, uint32 offset inside the
  uncompressed block, uint16 size of the entry's text (0 for an entry without text);
- ``.bzz``, the blocks, each compressed on its own with zlib (``CompressType=ZIP``).

The verse index has one entry per place of the module's versification, in order: for each
testament an empty entry 0 and a testament heading at entry 1, then for each book a book heading
(its introduction) followed, for each chapter, by a chapter heading and the chapter's verses. So
entry ``i`` of two modules with the same versification (``Versification=KJV``) is the same verse.

The texts of these modules are OSIS XML fragments (``SourceType=OSIS``); :func:`plain_text` turns
one into plain text. Book and chapter are read from the OSIS book ``<div type="book">`` and
``<chapter>`` start marks that open the heading entries, which spares a versification table.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from rnnlab.data.corpora import DataError

TESTAMENTS = ("ot", "nt")

_BLOCK = struct.Struct("<III")  # .bzs: offset, compressed size, uncompressed size
_ENTRY = struct.Struct("<IIH")  # .bzv: block number, offset in the block, size


@dataclass(frozen=True)
class Verse:
    """One entry of a module's verse index.

    ``verse`` is 0 for headings (the testament, book and chapter heading entries) and for every
    entry when the module carries no OSIS book and chapter marks; ``book`` is then ``""``.
    """

    testament: str  # "ot" or "nt"
    index: int  # position in the testament's verse index: the same verse in every KJV-versified module
    book: str  # OSIS book id, e.g. "Gen"
    chapter: int
    verse: int
    text: str  # plain text (see plain_text); "" for entries without text

    @property
    def ref(self) -> str:
        """The OSIS reference (``"Gen.1.1"``), or ``"ot:4"`` (testament and index) for a heading."""
        return f"{self.book}.{self.chapter}.{self.verse}" if self.verse else f"{self.testament}:{self.index}"


def read_conf(data: bytes) -> dict[str, str]:
    """The settings of a module's ``.conf`` file.

    Args:
        data: the file's bytes (its ``Encoding`` is for the texts; the keys used here are ASCII).

    Returns:
        Key -> value, with ``"Name"`` -> the section name; for a key given several times
        (``GlobalOptionFilter``), the first value.
    """
    conf: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]") and "Name" not in conf:
            conf["Name"] = line[1:-1]
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            conf.setdefault(key.strip(), value.strip())
    return conf


def read_testament(bzs: bytes, bzv: bytes, bzz: bytes, encoding: str = "utf-8", where: str = "module") -> list[str]:
    """The raw text of every entry of one testament's verse index, in order.

    Args:
        bzs: the block index.
        bzv: the verse index.
        bzz: the compressed blocks.
        encoding: the module's ``Encoding`` (``UTF-8``, or ``Latin-1`` in old modules).
        where: names the files in error messages (e.g. ``"engKJV2006eb/ot"``).

    Returns:
        One string per verse index entry (``""`` for entries of size 0), markup left in.

    Raises:
        DataError: an index of the wrong size, an entry or block outside its file, or a block
            that does not decompress to its recorded size.
    """
    if len(bzs) % _BLOCK.size or len(bzv) % _ENTRY.size:
        raise DataError(f"data: {where}.bzs or .bzv is not a whole number of index records")
    blocks: list[bytes] = []
    for offset, size, full in _BLOCK.iter_unpack(bzs):
        if offset + size > len(bzz):
            raise DataError(f"data: {where}.bzs points past the end of {where}.bzz")
        try:
            block = zlib.decompress(bzz[offset : offset + size])
        except zlib.error as e:
            raise DataError(f"data: block {len(blocks)} of {where}.bzz does not decompress ({e})") from e
        if len(block) != full:
            raise DataError(f"data: block {len(blocks)} of {where}.bzz has {len(block)} bytes, not {full}")
        blocks.append(block)
    texts: list[str] = []
    for number, start, size in _ENTRY.iter_unpack(bzv):
        if size == 0:
            texts.append("")  # nothing was written for this place (also entry 0 of each testament)
            continue
        if number >= len(blocks) or start + size > len(blocks[number]):
            raise DataError(f"data: entry {len(texts)} of {where}.bzv points outside its block")
        try:
            texts.append(blocks[number][start : start + size].decode(encoding))
        except (UnicodeDecodeError, LookupError) as e:
            raise DataError(f"data: entry {len(texts)} of {where} is not {encoding} text ({e})") from e
    return texts


# Removed with everything inside: footnotes and cross references, and titles that are not part
# of the text (book, section and acrostic headings, as <title> with no canonical="true").
_DROPPED = re.compile(r"<note\b[^>]*?/>|<note\b.*?</note>|<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.S)
# Structural marks (paragraphs, poetry lines, chapters, line breaks, titles kept) separate words;
# inline ones (<w> Strong's numbers, <transChange>, <divineName>, <q>, <foreign>, ...) do not, as in
# "<divineName>LORD</divineName>:".
_BREAK = re.compile(r"</?(?:div|p|l|lg|lb|br|chapter|verse|title|milestone|list|item|table|row|cell)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
# Two elements that touch between letters hold two words ("<w>engendró</w><transChange>un hijo" in
# the RV1909), while one element ending or starting inside a word does not ("give</w>n" in the KJV,
# "preguntándo<transChange>le").
_TOUCHING = re.compile(r"(?<=\w)((?:<[^>]*>)*</[^>]*><[^/][^>]*>(?:<[^>]*>)*)(?=\w)")
# USFM character marks left behind by the conversion to OSIS (e.g. "\nd", "\+nd*" around LORD).
_USFM = re.compile(r"\\\+?[a-z]+\d*\*?")
# The pilcrow marks a paragraph in the KJV; it is typography, not a word of the text.
_PILCROW = "\u00b6"
_BOOK = re.compile(r"<div\b(?=[^>]*\btype=\"book\")(?=[^>]*\bsID=)[^>]*\bosisID=\"([^\"]+)\"")
_CHAPTER = re.compile(r"<chapter\b(?=[^>]*\bsID=)[^>]*\bosisID=\"([^\".]+)\.(\d+)\"")


def plain_text(markup: str) -> str:
    """The plain text of one OSIS entry: what a reader of the printed verse sees.

    Notes go with their content; non-canonical titles (book and section headings) go, canonical
    ones (the Psalms' superscriptions, which are verse text) stay, set off by a space; ``<w>``
    and other inline elements keep their words; entities are unescaped, whitespace collapsed.

    Args:
        markup: the raw text of a verse index entry.

    Returns:
        The text, or ``""`` if the entry holds only markup.
    """
    text = _DROPPED.sub("", markup)
    text = _BREAK.sub(" ", _TOUCHING.sub(r" \1", text))
    text = _TAG.sub("", text)
    text = _USFM.sub("", html.unescape(text)).replace(_PILCROW, " ")
    return " ".join(text.split())


def read_module(files: Mapping[str, bytes], encoding: str = "utf-8", where: str = "module") -> list[Verse]:
    """Every entry of a zText module, both testaments, in versification order.

    Args:
        files: ``"ot.bzs"``, ``"ot.bzv"``, ... -> bytes; a testament the module lacks may be left out.
        encoding: the module's ``Encoding``.
        where: names the module in error messages.

    Returns:
        The entries of the Old Testament, then of the New, each with its plain text and, where
        the module marks books and chapters, its book, chapter and verse.

    Raises:
        DataError: a testament has some of its three files but not all, neither is present, or
            see :func:`read_testament`.
    """
    verses: list[Verse] = []
    for testament in TESTAMENTS:
        names = [f"{testament}.{kind}" for kind in ("bzs", "bzv", "bzz")]
        present = [name for name in names if name in files]
        if not present:
            continue
        if len(present) < len(names):
            missing = ", ".join(name for name in names if name not in files)
            raise DataError(f"data: {where} lacks {missing}")
        raw = read_testament(*(files[name] for name in names), encoding=encoding, where=f"{where}/{testament}")
        book, chapter, verse = "", 0, 0
        for index, markup in enumerate(raw):
            if found := _BOOK.search(markup):
                book, chapter, verse = found.group(1), 0, 0
            elif (found := _CHAPTER.search(markup)) and found.group(1) == book:
                chapter, verse = int(found.group(2)), 0
            elif chapter:
                verse += 1
            verses.append(Verse(testament, index, book, chapter, verse, plain_text(markup)))
    if not verses:
        raise DataError(f"data: {where} has no ot.bzv or nt.bzv")
    return verses
