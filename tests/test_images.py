"""Reading images: every Pillow mode to RGB over white, resize and centre crop, damaged files refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rnnlab.data.corpora import DataError
from rnnlab.data.images import IMAGE_SUFFIXES, decode_image, fit, read_image, to_rgb


def _bytes(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def _noise(width: int = 64, height: int = 48) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), mode="RGB")


MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb_of_the_size(mode: str) -> None:
    image = Image.new(mode, (20, 12))
    out = np.asarray(fit(to_rgb(image), 10))
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8


def test_transparency_becomes_white_and_grey_depths_are_scaled() -> None:
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    out = np.asarray(to_rgb(rgba))
    assert (out[0, 0] == [0, 0, 255]).all() and (out[5, 5] == 255).all()
    assert (np.asarray(to_rgb(Image.new("LA", (9, 9), (0, 0)))) == 255).all()
    palette = Image.new("P", (9, 9), 3)
    palette.info["transparency"] = 3
    assert (np.asarray(to_rgb(palette)) == 255).all()
    assert (np.asarray(to_rgb(Image.new("I;16", (9, 9), 65535))) == 255).all()
    assert (np.asarray(to_rgb(Image.new("I", (9, 9), 32896))) == 128).all()
    assert (np.asarray(to_rgb(Image.new("F", (9, 9), 0.5))) == 128).all()
    assert (np.asarray(to_rgb(Image.new("1", (9, 9), 1))) == 255).all()


def test_a_transparent_png_and_the_first_frame_of_a_gif_are_read(tmp_path: Path) -> None:
    png = tmp_path / "clear.png"
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(png)
    assert (read_image(png, 8) == 255).all()
    frames = [Image.new("P", (16, 16), k) for k in (0, 1)]
    for frame in frames:
        frame.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    gif = tmp_path / "moving.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    assert (read_image(gif, 8) == [255, 0, 0]).all()


def test_a_wide_image_is_scaled_then_centre_cropped() -> None:
    pixels = np.full((20, 40, 3), 255, np.uint8)
    pixels[:, 10:20] = [255, 0, 0]  # a red stripe in the left half of the kept middle square (x 10..30)
    out = np.asarray(fit(Image.fromarray(pixels), 10)).astype(int)
    assert out.shape == (10, 10, 3)
    assert (np.abs(out[:, 1:4] - [255, 0, 0]) <= 8).all()  # the stripe now covers x 0..5
    assert (np.abs(out[:, 6:] - 255) <= 8).all()
    tall = np.asarray(fit(Image.fromarray(pixels.transpose(1, 0, 2)), 10)).astype(int)
    assert (np.abs(tall[1:4, :] - [255, 0, 0]) <= 8).all() and (np.abs(tall[6:, :] - 255) <= 8).all()


@pytest.mark.parametrize("format", ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"])
def test_files_of_every_format_are_read(format: str) -> None:
    out = decode_image(_bytes(_noise(), format), 16, "x")
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert decode_image(_bytes(_noise(), format), None, "x").shape == (48, 64, 3)


def test_a_big_jpeg_decoded_at_reduced_scale_looks_like_the_full_decode() -> None:
    pixels = np.zeros((600, 800, 3), np.uint8)
    pixels[:, :400] = [200, 30, 30]
    data = _bytes(Image.fromarray(pixels), "JPEG", quality=95)
    fast = decode_image(data, 32, "x").astype(int)
    with Image.open(io.BytesIO(data)) as image:
        full = np.asarray(fit(to_rgb(image), 32)).astype(int)
    assert np.abs(fast - full).mean() < 4


def test_an_exif_orientation_is_turned_upright() -> None:
    pixels = np.full((20, 40, 3), 255, np.uint8)
    pixels[:, :20] = [255, 0, 0]  # red left half
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it turned 90 degrees clockwise
    out = decode_image(_bytes(Image.fromarray(pixels), "JPEG", exif=exif, quality=95), None, "x").astype(int)
    assert out.shape == (40, 20, 3)
    assert (np.abs(out[2:18] - [255, 0, 0]) <= 12).all() and (np.abs(out[22:] - 255) <= 12).all()


@pytest.mark.parametrize("format", ["PNG", "JPEG"])
def test_a_truncated_file_is_refused_naming_it(tmp_path: Path, format: str) -> None:
    path = tmp_path / f"cut.{format.lower()}"
    path.write_bytes(_bytes(_noise(), format)[:-300])
    with pytest.raises(DataError, match=rf"^data: {path} is truncated \(") as error:
        read_image(path, 16)
    assert "\n" not in str(error.value)


def test_bad_files_are_refused_with_one_line_naming_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4)).save(tiny)
    cases = {
        text: "is not an image",
        empty: r"is empty \(0 bytes\)",
        tiny: r"is 4x4 pixels; an image needs at least 8 a side",
        tmp_path / "gone.png": "no such file",
        tmp_path: "is a folder",
    }
    for path, message in cases.items():
        with pytest.raises(DataError, match=rf"^data: {path}:? {message}") as error:
            read_image(path, 16)
        assert "\n" not in str(error.value)
    big = tmp_path / "big.png"
    Image.new("RGB", (30, 30)).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # 900 pixels: a warning, refused too
    with pytest.raises(DataError, match=rf"^data: {big} is refused as a possible decompression bomb"):
        read_image(big, 16)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # over twice the limit: Pillow's error
    with pytest.raises(DataError, match=rf"^data: {big} is refused as a possible decompression bomb"):
        read_image(big, 16)


def test_the_suffixes() -> None:
    assert set(IMAGE_SUFFIXES) == {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
