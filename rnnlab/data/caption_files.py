"""Captions files: image name -> its captions, in the three formats of the common captioning sets.

The format is told by the content, not the file name:

- the Flickr8k CSV of its Kaggle copy (``captions.txt``): a header ``image,caption``, then one
  ``name.jpg,caption`` a line. The caption may be quoted (CSV) or hold unquoted commas: a line is
  split at its first comma only;
- the original Flickr8k ``Flickr8k.token.txt`` (Hodosh, Young and Hockenmaier 2013, "Framing Image
  Description as a Ranking Task", JAIR 47): ``name.jpg#k<TAB>caption``, ``k`` numbering an image's
  captions from 0;
- COCO captions JSON (Chen et al. 2015, "Microsoft COCO Captions: Data Collection and Evaluation
  Server", arXiv:1504.00325), e.g. ``captions_val2014.json``: ``{"images": [{"id", "file_name"}, ...],
  "annotations": [{"image_id", "caption"}, ...]}``.

An image has any number of captions. A caption has its white space collapsed to single spaces and
stripped; its case is kept. An empty caption is an error naming the file and line (or the image).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from rnnlab.data.corpora import DataError, read_data_file

#: what the three formats look like, for messages
FORMATS = "a Flickr8k CSV (header 'image,caption'), a Flickr8k token file (name.jpg#0<TAB>caption) or COCO JSON"
_TOKEN = re.compile(r"^(?P<name>[^\t]+)#\d+\t")


def normalise(caption: str) -> str:
    """``caption`` with its white space collapsed to single spaces and stripped."""
    return " ".join(caption.split())


def _add(captions: dict[str, list[str]], name: str, caption: str, where: str) -> None:
    text = normalise(caption)
    if not text:
        raise DataError(f"data: {where}: empty caption")
    if not name.strip():
        raise DataError(f"data: {where}: empty image name")
    captions.setdefault(name.strip(), []).append(text)


def _lines(text: str) -> list[tuple[int, str]]:
    return [(k, line) for k, line in enumerate(text.split("\n"), 1) if line.strip()]


def _read_csv(path: Path, lines: list[tuple[int, str]]) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = {}
    for k, line in lines[1:]:
        fields = next(csv.reader([line]))
        if len(fields) < 2:
            raise DataError(f"data: {path} line {k}: expected image,caption")
        caption = fields[1] if len(fields) == 2 else line.split(",", 1)[1]  # unquoted commas: keep the rest
        _add(captions, fields[0], caption, f"{path} line {k}")
    return captions


def _read_tokens(path: Path, lines: list[tuple[int, str]]) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = {}
    for k, line in lines:
        match = _TOKEN.match(line)
        if match is None:
            raise DataError(f"data: {path} line {k}: expected name.jpg#0<TAB>caption")
        _add(captions, match["name"], line[match.end() :], f"{path} line {k}")
    return captions


def _field(entry: object, key: str, where: str) -> object:
    if not isinstance(entry, dict) or key not in entry:
        raise DataError(f"data: {where} has no {key!r}")
    return entry[key]


def _read_coco(path: Path, text: str) -> dict[str, list[str]]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise DataError(f"data: {path} is not JSON ({' '.join(str(e).split())})") from e
    images, annotations = (_field(data, key, str(path)) for key in ("images", "annotations"))
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise DataError(f"data: {path}: 'images' and 'annotations' must be lists (COCO captions JSON)")
    names = {}
    for k, image in enumerate(images):
        image_id, name = _field(image, "id", f"{path} image {k}"), _field(image, "file_name", f"{path} image {k}")
        if not isinstance(image_id, (int, str)) or not isinstance(name, str):
            raise DataError(f"data: {path} image {k}: 'id' must be a number or string and 'file_name' a string")
        names[image_id] = name
    captions: dict[str, list[str]] = {}
    for k, note in enumerate(annotations):
        where = f"{path} annotation {k}"
        image_id, caption = _field(note, "image_id", where), _field(note, "caption", where)
        if not isinstance(image_id, (int, str)) or image_id not in names:
            raise DataError(f"data: {where} names image_id {image_id!r}, which 'images' does not list")
        if not isinstance(caption, str):
            raise DataError(f"data: {where} ({names[image_id]}): the caption is not a string")
        _add(captions, names[image_id], caption, f"{where} ({names[image_id]})")
    return captions


def read_caption_file(path: str | Path) -> dict[str, list[str]]:
    """The captions of a captions file in one of the formats of the module docstring.

    Returns:
        Image name (as the file writes it, a path relative to the images' folder) -> its captions, in
        file order.

    Raises:
        DataError: one line: the file is missing, not UTF-8, empty, of an unknown format, or has a
            malformed line or an empty caption (naming the line or the image), or no captions.
    """
    path = Path(path)
    text = read_data_file(path, (), "a captions file")
    if not text.strip():
        raise DataError(f"data: {path} is empty; expected captions: {FORMATS}")
    lines = _lines(text)
    if text.lstrip().startswith("{"):
        captions = _read_coco(path, text)
    elif [f.strip().lower() for f in next(csv.reader([lines[0][1]]))] == ["image", "caption"]:
        captions = _read_csv(path, lines)
    elif _TOKEN.match(lines[0][1]):
        captions = _read_tokens(path, lines)
    else:
        raise DataError(f"data: {path} is not a captions file of a known format; expected {FORMATS}")
    if not captions:
        raise DataError(f"data: {path} holds no captions")
    return captions
