"""Reading images for captioning: any file Pillow reads, as RGB ``uint8`` arrays of one square size.

Every image becomes RGB (:func:`to_rgb`): transparency (an alpha band, a transparent palette entry
or colour) is composited over white, grey is repeated into three channels, 16- and 32-bit integer
grey is scaled to 8 bits (``I;16`` divided by 257; ``I`` the same when its values pass 255) and
floating-point grey is read as [0, 1] when it stays there, else as [0, 255]. Of an animated image
only the first frame is used; a photograph with an EXIF orientation tag is turned upright
(:func:`upright`). It is then made square the way captioning pipelines do (:func:`fit`): the
shorter side is scaled to ``size`` with Lanczos filtering and the longer one is centre-cropped. A
JPEG is decoded at a reduced scale first (``Image.draft``) when it is more than twice the wanted
size, which makes reading thousands of photographs several times faster.

A file is refused, with one line naming it, when it is empty, not an image, truncated (the pixels
are fully decoded; a truncated file is never padded), smaller than :data:`MIN_SIDE` pixels a side,
or larger than Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rnnlab.data.corpora import DataError, read_user_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MIN_SIDE = 8  # pixels: a smaller image shows nothing to caption
WHITE = (255, 255, 255)
ORIENTATION = 0x0112  # the EXIF tag of how the camera was held
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


def _grey_to_8_bits(image: Image.Image) -> Image.Image:
    """An ``I;16*``, ``I`` or ``F`` image as ``L`` (see the module docstring for the scaling)."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        values = values / 257
    elif image.mode == "I" and values.size and values.max() > 255:
        values = values / 257
    elif image.mode == "F" and values.size and values.min() >= 0 and values.max() <= 1:
        values = values * 255
    values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as an RGB image: its first frame, transparency composited over white.

    Raises:
        ValueError: a mode Pillow cannot convert to RGB.
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _grey_to_8_bits(image)
    if image.mode == "La":
        image = image.convert("LA")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*WHITE, 255)), rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation tag says a camera held it (itself when there is no tag)."""
    if image.getexif().get(ORIENTATION, 1) in (1, None):
        return image
    return ImageOps.exif_transpose(image)


def fit(image: Image.Image, size: int) -> Image.Image:
    """``image`` scaled so that its shorter side is ``size`` (Lanczos) and centre-cropped to ``size`` squared."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return image.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))


def _say(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def decode_image(data: bytes, size: int | None, where: str, min_side: int = MIN_SIDE) -> np.ndarray:
    """The image in ``data`` as an RGB ``uint8`` array: (size, size, 3), or as stored when ``size`` is None.

    Args:
        data: the bytes of an image file.
        size: pixels a side of the result (:func:`fit`); None keeps the image's own size.
        where: what to call the image in messages (its file).
        min_side: the fewest pixels a side an image may have.

    Raises:
        DataError: one line naming ``where``: empty, not an image, truncated or otherwise unreadable,
            too small, or a possible decompression bomb.
    """
    if not data:
        raise DataError(f"data: {where} is empty (0 bytes), not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if min(width, height) < min_side:
                    raise DataError(
                        f"data: {where} is {width}x{height} pixels; an image needs at least {min_side} a side"
                    )
                if size is not None and image.format == "JPEG" and min(width, height) > 2 * size:
                    image.draft("RGB", (size, size))  # decode at 1/2, 1/4 or 1/8 scale, still >= size
                image.load()  # decodes every pixel: a truncated file raises here
                rgb = to_rgb(upright(image))
                if size is not None:
                    rgb = fit(rgb, size)
                return np.asarray(rgb, dtype=np.uint8).copy()
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"data: {where} is refused as a possible decompression bomb ({_say(e)})") from e
    except UnidentifiedImageError as e:
        raise DataError(f"data: {where} is not an image (Pillow cannot tell its format)") from e
    except MemoryError as e:
        raise DataError(f"data: {where} is too large to decode in this machine's memory") from e
    except Exception as e:  # a damaged file can make any decoder fail in its own way
        if "truncated" in str(e).lower() or isinstance(e, EOFError):
            raise DataError(f"data: {where} is truncated ({_say(e)})") from e
        raise DataError(f"data: {where} is not a readable image ({_say(e)})") from e


def read_image(path: Path, size: int) -> np.ndarray:
    """The image file at ``path`` as an RGB ``uint8`` array (size, size, 3); see :func:`decode_image`.

    Raises:
        DataError: one line naming the file: missing, not a regular file, unreadable or refused by
            :func:`decode_image`.
    """
    return decode_image(read_user_bytes(Path(path), what="an image file"), size, str(path))
