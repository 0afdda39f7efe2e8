"""Opening user images: every pixel mode, transparency, EXIF rotation, and every kind of bad file."""

from __future__ import annotations

import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitcli.errors import InputError
from digitcli.vision.decode import MAX_PIXELS, open_gray
from tests.conftest import digit_image

LOSSLESS = ("L.png", "LA.png", "RGBA.png", "P-transparent.png", "I16.png", "CMYK.tif", "F.tif", "RGB.bmp")
LOSSY = ("RGB.jpg", "CMYK.jpg", "exif-rotated.jpg", "1bit.png", "animated.gif")


def save_variant(image: Image.Image, folder: Path, name: str) -> Path:
    """Save an L picture (dark ink on white) in the format and pixel mode named, looking the same to a person."""
    path = folder / name
    ink = Image.eval(image, lambda v: 255 - v)  # coverage: 255 where the strokes are
    if name == "L.png":
        image.save(path)
    elif name == "LA.png":  # black strokes on a transparent background, as drawing apps export
        Image.merge("LA", (Image.new("L", image.size, 0), ink)).save(path)
    elif name == "RGBA.png":
        Image.merge("RGBA", (*[Image.new("L", image.size, 0)] * 3, ink)).save(path)
    elif name == "RGBA-white-strokes.png":  # light strokes on transparent: must not vanish on white
        Image.merge("RGBA", (*[Image.new("L", image.size, 255)] * 3, ink)).save(path)
    elif name == "P-transparent.png":  # palette of greys, white entry transparent
        palette = Image.frombytes("P", image.size, image.tobytes())
        palette.putpalette([v for g in range(256) for v in (g, g, g)])
        palette.save(path, transparency=255)
    elif name == "I16.png":
        Image.fromarray(np.asarray(image).astype(np.uint16) * 257).save(path)
    elif name == "CMYK.tif":
        image.convert("CMYK").save(path)
    elif name == "CMYK.jpg":
        image.convert("CMYK").save(path, quality=95)
    elif name == "F.tif":
        Image.fromarray(np.asarray(image, dtype=np.float32) / 255).save(path)
    elif name == "RGB.bmp":
        image.convert("RGB").save(path)
    elif name == "RGB.jpg":
        image.convert("RGB").save(path, quality=95)
    elif name == "exif-rotated.jpg":  # stored sideways, EXIF Orientation 6 says "rotate 90° clockwise"
        exif = Image.Exif()
        exif[0x0112] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif.tobytes())
    elif name == "1bit.png":
        image.point(lambda v: 255 if v > 127 else 0).convert("1", dither=Image.Dither.NONE).save(path)
    elif name == "animated.gif":
        blank = Image.new("L", image.size, 255)
        image.save(path, save_all=True, append_images=[blank], duration=100, loop=0)
    else:
        raise ValueError(name)
    return path


def png_declaring(width: int, height: int) -> bytes:
    """A valid little PNG whose header claims width×height 1-bit pixels (only one row of data follows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row)) + chunk(b"IEND", b"")


@pytest.fixture
def seven() -> Image.Image:
    return digit_image(7, size=120)


def test_grey_png_gives_exact_luminance(tmp_path, seven):
    gray = open_gray(save_variant(seven, tmp_path, "L.png"))
    assert gray.dtype == np.float32 and gray.shape == (120, 120)
    np.testing.assert_array_equal(gray, np.asarray(seven, dtype=np.float32) / 255)


@pytest.mark.parametrize("name", LOSSLESS)
def test_lossless_modes_look_the_same(tmp_path, seven, name):
    expected = np.asarray(seven, dtype=np.float32) / 255
    gray = open_gray(save_variant(seven, tmp_path, name))
    assert gray.dtype == np.float32
    np.testing.assert_allclose(gray, expected, atol=1 / 255)


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_modes_look_nearly_the_same(tmp_path, seven, name):
    expected = np.asarray(seven, dtype=np.float32) / 255
    gray = open_gray(save_variant(seven, tmp_path, name))
    assert gray.shape == expected.shape  # EXIF rotation undone, first GIF frame taken
    assert np.abs(gray - expected).mean() < 0.03


def test_transparent_light_strokes_are_put_on_black(tmp_path, seven):
    gray = open_gray(save_variant(seven, tmp_path, "RGBA-white-strokes.png"))
    np.testing.assert_allclose(gray, 1 - np.asarray(seven, dtype=np.float32) / 255, atol=1 / 255)


def test_fully_transparent_picture_is_blank_not_an_error(tmp_path):
    path = tmp_path / "empty.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    assert np.ptp(open_gray(path)) == 0


def test_sixteen_bit_values_are_not_clamped(tmp_path):
    path = tmp_path / "dim.png"
    Image.fromarray(np.array([[0, 1000, 30000, 65535]], dtype=np.uint16)).save(path)
    np.testing.assert_allclose(open_gray(path), [[0, 1000 / 65535, 30000 / 65535, 1]], rtol=1e-6)


def test_draft_size_decodes_big_jpeg_smaller(tmp_path):
    path = tmp_path / "big.jpg"
    digit_image(7, size=1600).save(path, quality=90)
    assert open_gray(path).shape == (1600, 1600)
    assert open_gray(path, draft_size=(400, 400)).shape == (400, 400)  # libjpeg's 1/4 scale


def make_bad_file(kind: str, folder: Path) -> Path:
    """Create one kind of unusable input and return its path."""
    if kind == "missing":
        return folder / "missing.png"
    if kind == "directory":
        (folder / "folder.png").mkdir()
        return folder / "folder.png"
    if kind == "zero-bytes":
        (folder / "empty.png").write_bytes(b"")
        return folder / "empty.png"
    if kind == "text-as-png":
        (folder / "notes.png").write_text("not a picture\n")
        return folder / "notes.png"
    # Truncated: a noisy picture (so the data is long) cut after 60 % of its bytes.
    path = folder / ("cut.png" if kind == "truncated-png" else "cut.jpg")
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("directory", "is a folder, not a regular file"),
        ("zero-bytes", "file is empty"),
        ("text-as-png", "not an image file"),
        ("truncated-png", "truncated or damaged"),
        ("truncated-jpeg", "truncated or damaged"),
    ],
)
def test_bad_files_raise_one_line_input_error_naming_the_file(tmp_path, kind, message):
    path = make_bad_file(kind, tmp_path)
    with pytest.raises(InputError) as caught:
        open_gray(path)
    text = str(caught.value)
    assert path.name in text and message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("special", "message"),
    [("fifo", "is a named pipe (FIFO), not a regular file"),
     ("/dev/zero", "is a character device, not a regular file")],
)
def test_a_fifo_or_device_is_refused_at_once_not_read_for_ever(tmp_path, fifo, special, message):
    if special == "fifo":
        path = fifo(tmp_path / "pipe.png")  # with no writer, reading it would wait for ever
    else:
        path = Path(special)
    with pytest.raises(InputError) as caught:
        open_gray(path)
    assert str(caught.value) == f"{path}: {message}"


def test_huge_declared_size_is_refused_from_the_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(30_000, 30_000))  # 900 Mpx claimed in a file of ~100 bytes
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"bomb\.png: image is 900 Mpx, more than the \d+ Mpx limit"):
        open_gray(path)
    assert time.perf_counter() - start < 0.5  # nothing was decoded


def test_our_pixel_limit_is_checked_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    path.write_bytes(png_declaring(8000, 8000))  # 64 Mpx: under Pillow's limit, over ours
    assert 8000 * 8000 > MAX_PIXELS
    with pytest.raises(InputError, match=r"wide\.png: image is 8000×8000 = 64 Mpx, more than the 50 Mpx limit"):
        open_gray(path)


def test_pixel_limit_can_be_lowered(tmp_path, seven):
    path = save_variant(seven, tmp_path, "L.png")
    with pytest.raises(InputError, match="more than the"):
        open_gray(path, max_pixels=100)


def test_pillow_warning_filter_does_not_leak(tmp_path, seven):
    before = list(warnings.filters)
    open_gray(save_variant(seven, tmp_path, "L.png"))
    assert warnings.filters == before


@pytest.mark.parametrize("where", ["png-exif", "png-xmp"])
def test_orientation_outside_jpeg_still_turns_the_picture(tmp_path: Path, seven: Image.Image, where: str):
    """A PNG stored sideways with orientation 6 (in an eXIf chunk, or in XMP) opens upright, like the plain PNG."""
    from PIL import PngImagePlugin

    upright = open_gray(save_variant(seven, tmp_path, "L.png"))
    sideways = seven.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    if where == "png-exif":
        path = tmp_path / "sideways.png"
        sideways.save(path, exif=exif.tobytes())
    else:
        path = tmp_path / "sideways-xmp.png"
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>')
        sideways.save(path, pnginfo=info)
    assert np.array_equal(open_gray(path), upright)
