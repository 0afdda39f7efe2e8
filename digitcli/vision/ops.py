"""Picture primitives on OpenCV: pooling, shrinking, morphology, boxes, hole filling, Otsu, stroke width."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from digitcli.errors import InputError


# predict's worker processes already use both cores: OpenCV's own thread pool would fight them.
cv2.setNumThreads(1)


def as_unit_float(gray: np.ndarray) -> np.ndarray:
    """Check the array is a usable 2-D picture and return it as float32 in [0, 1]."""
    arr = np.asarray(gray)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"expected a 2-D grey picture, got an array of shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr.sum()):
        raise InputError("the picture has NaN or infinite pixel values")
    return arr


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round [0, 1] floats to 0..255 bytes."""
    return np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8)


def resize(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float picture to (width, height): area averaging when shrinking, Lanczos when growing."""
    shrinking = size[0] <= values.shape[1] and size[1] <= values.shape[0]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.LANCZOS
    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.clip(np.asarray(img.resize(size, method)), 0, 1)


def pool_blocks(values: np.ndarray, factor: int, operation: Callable) -> np.ndarray:
    """The maximum (operation=cv2.dilate) or minimum (cv2.erode) of factor×factor blocks (see _whole_blocks)."""
    if factor == 1:
        return values
    return _morph(operation, _whole_blocks(values, factor), factor, anchor=(0, 0))[::factor, ::factor]


def shrink(values: np.ndarray, factor: int) -> np.ndarray:
    """Average factor×factor blocks (see _whole_blocks): INTER_AREA at a whole factor is the block mean."""
    if factor == 1:
        return values
    values = _whole_blocks(values, factor)
    size = (values.shape[1] // factor, values.shape[0] // factor)
    return cv2.resize(values, size, interpolation=cv2.INTER_AREA)


def _whole_blocks(values: np.ndarray, factor: int) -> np.ndarray:
    """The picture with its last row and column repeated up to a multiple of factor: the edge blocks are
    whole, so block i of a shrunk copy stays pixels i·factor to (i+1)·factor of the picture."""
    h, w = values.shape
    if h % factor == 0 and w % factor == 0:
        return values
    if values.dtype == bool:
        return _whole_blocks(values.view(np.uint8), factor).view(bool)
    return cv2.copyMakeBorder(values, 0, -h % factor, 0, -w % factor, cv2.BORDER_REPLICATE)


def square(size: int, height: int | None = None) -> np.ndarray:
    """A size×size (or size wide, height tall) rectangular structuring element."""
    return cv2.getStructuringElement(cv2.MORPH_RECT, (size, size if height is None else height))


def dilate(values: np.ndarray, size: int) -> np.ndarray:
    """Grey dilation (maximum) over size×size squares, centred; outside the picture does not count."""
    return _morph(cv2.dilate, values, size)


def erode(values: np.ndarray, size: int) -> np.ndarray:
    """Grey erosion (minimum) over size×size squares (see dilate)."""
    return _morph(cv2.erode, values, size)


def _morph(operation: Callable, values: np.ndarray, size: int, anchor: tuple[int, int] = (-1, -1)) -> np.ndarray:
    """cv2.dilate or cv2.erode with a square (centred unless `anchor`); boolean masks go through as bytes."""
    if size <= 1:
        return values
    if values.dtype == bool:
        return operation(np.ascontiguousarray(values).view(np.uint8), square(size), anchor=anchor).view(bool)
    return operation(values, square(size), anchor=anchor)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Return (top, bottom, left, right), end-exclusive, of the True pixels, or None if there are none."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(mask, dtype=bool).view(np.uint8))
    return (y, y + h, x, x + w) if w else None


def median(values: np.ndarray) -> np.floating:
    """np.median of all the values (finite; NaN when there are none), without its per-call overhead.

    The search takes a dozen medians of a few thousand values per picture: np.median's checks and
    its mean of the middle pair cost more than the partition.  The middle pair is averaged the
    way np.median does, in the values' own dtype (as is the result): the same to the bit.
    """
    flat = np.ravel(values)
    n = flat.size
    if n == 0:
        return flat.dtype.type(np.nan)
    k = n // 2
    if n % 2:
        return np.partition(flat, k)[k]
    part = np.partition(flat, (k - 1, k))
    return (part[k - 1] + part[k]) / 2


def centre_of_mass(values: np.ndarray) -> tuple[float, float]:
    """Return the (row, column) centre of mass in pixel-index coordinates."""
    rows = values.sum(axis=1, dtype=np.float64)  # float sums and indices: integer matmul is slow
    cols = values.sum(axis=0, dtype=np.float64)
    total = rows.sum()
    return float(rows @ np.arange(rows.size, dtype=np.float64)) / total, float(
        cols @ np.arange(cols.size, dtype=np.float64)
    ) / total


def touches_edge(mask: np.ndarray) -> bool:
    """True if the mask has a pixel on the picture's border."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold for values in [0, 1]: the one that best separates a dark and a light class.

    OpenCV's, on the values in `bins` levels: 64 smooth the histogram of a small coarse copy (with
    all 256, one paper-on-desk picture in 2,000 lost its sheet).
    """
    levels = np.clip(values * bins, 0, bins - 1).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return (level + 1) / bins  # the levels above `level` are light


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return the mask with every enclosed gap filled (gaps not connected to the mask's outer edge)."""
    # Flood the gaps from a frame of gap around the mask (8-connected, as components are): what
    # the flood does not reach is enclosed.
    h, w = mask.shape
    gaps = np.ones((h + 2, w + 2), np.uint8)
    gaps[1:-1, 1:-1] = ~mask
    cv2.floodFill(gaps, None, (0, 0), 0, flags=8)
    return mask | gaps[1:-1, 1:-1].view(bool)


def stroke_width(mask: np.ndarray) -> float:
    """Estimate stroke width as 2·area / perimeter: a stroke of width w and length L has area wL, perimeter ≈ 2L."""
    # Edges between neighbours, and between the mask and the outside (the first and last rows
    # and columns): the transitions of the mask padded with False, without making that copy.
    mask = np.asarray(mask, dtype=bool)
    perimeter = (np.count_nonzero(mask[1:] ^ mask[:-1]) + np.count_nonzero(mask[:, 1:] ^ mask[:, :-1])
                 + np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1])
                 + np.count_nonzero(mask[:, 0]) + np.count_nonzero(mask[:, -1]))
    return 2 * np.count_nonzero(mask) / max(perimeter, 1)
