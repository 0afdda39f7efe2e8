"""The picture as a file: pixel mode, format, compression and EXIF orientation, as phones, scanners and apps save it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

from digitcli.synth.randomness import Rng


# (Pillow format, file extension) of each format condition.  png-rgba is what every transparent
# background gets; png-16bit is mode I;16, png-bilevel mode 1, the -cmyk ones mode CMYK.
FORMATS = {
    "png": ("PNG", "png"), "png-gray": ("PNG", "png"), "png-16bit": ("PNG", "png"),
    "png-bilevel": ("PNG", "png"), "png-rgba": ("PNG", "png"), "jpeg": ("JPEG", "jpg"),
    "jpeg-low": ("JPEG", "jpg"), "jpeg-exif": ("JPEG", "jpg"), "jpeg-cmyk": ("JPEG", "jpg"),
    "bmp": ("BMP", "bmp"), "webp": ("WEBP", "webp"), "tiff": ("TIFF", "tif"),
    "tiff-cmyk": ("TIFF", "tif"), "gif": ("GIF", "gif"),
}


EXIF_ORIENTATIONS = (3, 6, 8)  # what phones write: upside down, and the two sideways holds


# How a viewer undoes each orientation (as ImageOps.exif_transpose does) and how we cause it.
_T = Image.Transpose
VIEW = {3: _T.ROTATE_180, 6: _T.ROTATE_270, 8: _T.ROTATE_90}
_STORE = {3: _T.ROTATE_180, 6: _T.ROTATE_90, 8: _T.ROTATE_270}


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] to uint8, rounded."""
    scaled = values * np.float32(255)
    scaled += np.float32(0.5)
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)


def _to_pil(planes: np.ndarray) -> Image.Image:
    """Float planes (3 or 4, H, W) in [0, 1] to an RGB or RGBA Pillow image."""
    bands = [Image.fromarray(band) for band in to_uint8(planes)]
    return Image.merge("RGBA" if len(bands) == 4 else "RGB", bands)


def encode(
    c: Mapping[str, str], planes: np.ndarray, rng: Rng
) -> tuple[Image.Image, dict[str, object], int | None]:
    """The picture in the pixel mode its format asks for, its save options and EXIF orientation."""
    fmt = c["format"]
    image = _to_pil(planes)
    options: dict[str, object] = {}
    orientation = None
    if fmt == "png-rgba":
        # Apps leave different colours under fully transparent pixels; readers must not care.
        under = rng.choice(["black", "white", "ink"])
        if under != "ink":
            blank = Image.new("RGBA", image.size, (255, 255, 255, 0) if under == "white" else 0)
            drawn = image.getchannel("A").point(lambda a: 255 * (a > 0))
            image = Image.composite(image, blank, drawn)
    elif fmt in ("png-gray", "png-16bit", "png-bilevel"):
        gray = image.convert("L")
        if fmt == "png-16bit":  # a 16-bit scanner: the full 0..65535 range
            image = Image.fromarray(np.asarray(gray, np.uint16) * 257)
        elif fmt == "png-bilevel":  # a scanner's black-and-white mode
            g = np.asarray(gray)
            # A threshold relative to the paper (the median, even when the digit is tiny) keeps
            # faint pencil and ignores specks, unlike one halfway to the darkest pixel.
            threshold = 0.75 * float(np.median(g))
            image = Image.fromarray(g > threshold).convert("1")
        else:
            image = gray
    elif fmt.startswith("jpeg"):
        low, high = (12, 36) if fmt == "jpeg-low" else (70, 96)
        options["quality"] = int(rng.integers(low, high))
        if fmt == "jpeg-low" and rng.random() < 0.3:
            image = image.convert("L")
        if fmt == "jpeg-exif":
            orientation = int(rng.choice(EXIF_ORIENTATIONS))
            image = image.transpose(_STORE[orientation])
    elif fmt == "webp":
        # Effort 0 is libwebp's fastest; the artefacts are the same kind, the file a bit larger.
        options.update(quality=int(rng.integers(50, 91)), method=0)
    elif fmt.startswith("tiff"):
        options["compression"] = str(rng.choice(["tiff_lzw", "tiff_adobe_deflate", "raw"]))
    elif fmt == "gif":
        image = image.quantize(int(rng.choice([32, 64, 256])), dither=Image.Dither.NONE)
    if fmt.startswith("png"):
        options["compress_level"] = 1  # the same pixels, written twice as fast as the default
    if fmt.endswith("cmyk"):
        image = image.convert("CMYK")
    return image, options, orientation
