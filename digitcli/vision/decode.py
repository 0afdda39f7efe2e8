"""Opening user images safely: size limits, EXIF rotation, transparency and every pixel mode."""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from digitcli.errors import InputError
from digitcli.files import open_regular

# 50 Mpx holds every ordinary camera photo and scan (12-48 Mpx phones, A4 at 600 dpi is 35 Mpx)
# while bounding the memory a single input can take: the decoded RGB pixels plus the float32
# luminance stay under ~400 MB.  It is checked from the header, before any decoding, so a
# small file that declares huge dimensions (a decompression bomb) costs nothing.  Pillow's own
# bomb check (~89 Mpx) also applies and is turned into the same error.
MAX_PIXELS = 50_000_000

# ITU-R 601-2 luma, the weights Pillow's convert("L") and libjpeg's grey decoding use.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Pillow raises these for damaged or truncated files, depending on format and where it breaks.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def open_gray(
    path: Path | str,
    *,
    max_pixels: int = MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Open an image file as a float32 2-D luminance array in [0, 1] (0 black, 1 white), as a person sees it.

    Raises InputError (one line, naming the file) for anything that is not a usable image.
    ``draft_size`` lets a JPEG decode at a reduced size that is still at least that large.
    """
    # Opened once, here: a FIFO or a device (which Pillow would open and read for ever) is
    # refused on the open descriptor, and Pillow decodes from that same descriptor.
    with open_regular(path, InputError) as file:
        try:
            return _decode(file, path, max_pixels, draft_size)
        except InputError:
            # An empty file is named as such rather than as a damaged image.
            if os.fstat(file.fileno()).st_size == 0:
                raise InputError(f"{path}: file is empty (0 bytes)") from None
            raise


def _decode(file: BinaryIO, path: Path | str, max_pixels: int,
            draft_size: tuple[int, int] | None) -> np.ndarray:
    """open_gray's work on the opened `file`; every failure becomes an InputError."""
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its limit; a warning must stop us too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(file) as img:
                _check_size(path, img.size, max_pixels)
                if draft_size is not None and img.format == "JPEG":
                    img.draft("L", draft_size)
                img.load()
                _apply_exif_orientation(img)
                return _luminance(img)
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            # Pillow refuses before we see the size; its message holds the pixel count.
            found = re.search(r"\((\d+) pixels\)", str(err))
            size = f"{int(found.group(1)) / 1e6:.0f} Mpx" if found else "too large"
            limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
            raise InputError(f"{path}: image is {size}, more than the {limit / 1e6:.0f} Mpx limit") from None
        except Image.UnidentifiedImageError:
            raise InputError(f"{path}: not an image file (unknown or unsupported format)") from None
        except _DECODE_ERRORS as err:
            raise InputError(f"{path}: file is truncated or damaged ({err})") from None


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    """Refuse images whose header declares more pixels than we are willing to decode."""
    width, height = size
    if width * height > max_pixels:
        raise InputError(
            f"{path}: image is {width}×{height} = {width * height / 1e6:.0f} Mpx, "
            f"more than the {max_pixels / 1e6:.0f} Mpx limit"
        )


# Where Pillow's getexif finds an orientation: EXIF bytes (JPEG, PNG eXIf, WebP), a PNG text
# chunk, XMP, and a TIFF's own tags (`tag_v2`).
_ORIENTATION_INFO = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


def _apply_exif_orientation(img: Image.Image) -> None:
    """Turn a phone photo upright as viewers show it; a damaged EXIF block is no reason to refuse the pixels."""
    if not hasattr(img, "tag_v2") and not any(key in img.info for key in _ORIENTATION_INFO):
        # Nothing to read an orientation from (a plain PNG): building the empty Exif costs
        # about as much as the rest of opening a 28×28 picture beyond decoding it.
        return
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except (*_DECODE_ERRORS, KeyError, TypeError):
        pass


def _luminance(img: Image.Image) -> np.ndarray:
    """Convert a loaded image of any mode to float32 luminance in [0, 1], keeping its value range."""
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        return _flatten_alpha(_rgb_luma(np.asarray(rgba)[..., :3]), alpha)
    if mode == "L":
        # Converted and divided in one pass (the same float32 division): a second full-size float
        # array, or a second pass over it, would cost a share of decoding a photo.
        return np.divide(np.asarray(img), np.float32(255), dtype=np.float32)
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.float32) / 255
    if mode.startswith("I;16"):
        # Pillow's convert("L") clamps 16-bit values at 255; scale by the real 16-bit range instead.
        return np.asarray(img).astype(np.float32) / 65535
    if mode in ("I", "F"):
        return _to_unit_range(np.asarray(img).astype(np.float32))
    # RGB, CMYK, YCbCr, LAB, HSV, P: let Pillow map to RGB, then weigh in float (no rounding to 8 bits).
    return _rgb_luma(np.asarray(img.convert("RGB")))


def _rgb_luma(rgb: np.ndarray) -> np.ndarray:
    """Weigh 8-bit R, G, B into float32 luminance in [0, 1], a band of rows at a time.

    Converting a whole 50 Mpx photo to float at once would need 600 MB for the three channels.
    """
    weights = _LUMA / 255
    out = np.empty(rgb.shape[:2], np.float32)
    band = max(1, (1 << 20) // max(rgb.shape[1], 1))  # about a million pixels per step
    for top in range(0, rgb.shape[0], band):
        out[top : top + band] = rgb[top : top + band] @ weights
    return out


def _to_unit_range(values: np.ndarray) -> np.ndarray:
    """Scale 32-bit integer or float pixels by the smallest standard range (1, 255, 65535) that holds them."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    for full_scale in (1.0, 255.0, 65535.0):
        if low >= 0 and high <= full_scale:
            return values / np.float32(full_scale)
    # Anything else (negative or beyond 16 bits) has no standard range: stretch what is there.
    return (values - low) / np.float32(max(high - low, 1e-12))


def _flatten_alpha(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite onto white when the visible strokes are dark, onto black when they are light.

    A transparent PNG from a drawing app often stores black strokes over transparent black; dropping
    alpha would make it all black, and a fixed white background would hide white strokes.
    """
    weight = float(alpha.sum())
    stroke_lum = float((alpha * lum).sum()) / weight if weight > 0 else 0.0
    background = np.float32(1.0 if stroke_lum < 0.5 else 0.0)
    # alpha·lum + (1 − alpha)·background, in place: these arrays can be hundreds of MB.
    lum -= background
    lum *= alpha
    lum += background
    return lum
