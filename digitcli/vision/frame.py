"""The MNIST frame: cut the found ink out, match MNIST's stroke width, scale to 20 px and centre by mass in 28×28."""

from __future__ import annotations

import cv2
import numpy as np

from digitcli.errors import NO_DIGIT, NoDigitError
from digitcli.vision.ops import bbox, centre_of_mass, dilate, erode, pool_blocks, resize, stroke_width, to_uint8
from digitcli.vision.paper import pixel_noise

from digitcli.vision.find import Found, Ink


SIZE = 28  # MNIST frame
BOX = 20  # MNIST digits have their longer side scaled to 20 px
DETAIL_SIZE = 80  # the cut-out digit is pooled down to 80-159 px before the final resize
STROKE_TARGET = 2.0  # median MNIST stroke width in the 20-px box (test set, 50 % threshold)
STROKE_MIN = 1.6  # strokes thinner than this are thickened to the target
STROKE_MAX = 2.8  # strokes thicker than this (the widest 5 % of MNIST; bold fonts, markers) are thinned to it


def mnist_like(pictures: np.ndarray) -> np.ndarray:
    """For a stack of 28×28 float pictures, which already look MNIST-prepared (to be kept as they are).

    MNIST images have a black background, bright strokes, an ink box whose longer side is 18-20 px
    (at a 10 % threshold, all 70,000 of them) and their centre of mass within half a pixel of the
    centre.  Re-running the pipeline on them could only make them less like the training data.
    """
    ink = pictures >= _INK_LEVEL
    ink_rows, ink_cols = ink.any(axis=2), ink.any(axis=1)
    height = SIZE - ink_rows.argmax(axis=1) - ink_rows[:, ::-1].argmax(axis=1)
    width = SIZE - ink_cols.argmax(axis=1) - ink_cols[:, ::-1].argmax(axis=1)
    box = np.maximum(height, width)
    row_sums, col_sums = pictures.sum(axis=2), pictures.sum(axis=1)
    total = np.maximum(row_sums.sum(axis=1), 1e-12)
    return (
        ink_rows.any(axis=1)
        & (17 <= box) & (box <= BOX)
        & (pictures.max(axis=(1, 2)) >= 0.5)  # bright strokes
        & (np.count_nonzero(ink, axis=(1, 2)) <= SIZE * SIZE // 2)  # a dark background
        & (np.abs(row_sums @ _OFFSETS / total) <= 1)
        & (np.abs(col_sums @ _OFFSETS / total) <= 1)
    )


# A pixel is ink from 10 % (26 of 255 after rounding); offsets of rows and columns from the centre.
_INK_LEVEL = 25.5 / 255
_OFFSETS = np.arange(SIZE, dtype=np.float32) - SIZE / 2


def digit_input(found: Found, keep: np.ndarray | None = None) -> np.ndarray:
    """Cut the found ink (or only `keep`, a mask on the small copy) out and make it MNIST's 28×28 uint8 (steps 6-7)."""
    ink = found.ink if keep is None else Ink(keep, found.ink.paper, found.ink.sign, found.ink.level)
    return _place(_fit_box(_match_strokes(_cut_out(found.gray, ink, found.factor))))


def _cut_out(gray: np.ndarray, found: Ink, factor: int) -> np.ndarray:
    """Cut the kept ink out of the full-resolution picture as [0, 1] strength, pooled to DETAIL_SIZE-ish."""
    keep, paper, sign, level = found.keep, found.paper, found.sign, found.level
    # Grow the kept mask a little so the soft, anti-aliased edges of the strokes come along.
    top, bottom, left, right = bbox(keep)
    grow = 2
    t, b = max(top - grow, 0), min(bottom + grow, keep.shape[0])
    l, r = max(left - grow, 0), min(right + grow, keep.shape[1])
    region = dilate(keep[t:b, l:r].astype(np.uint8), 2 * grow + 1)

    # Pool first (block maxima of the ink side), so the rest works on ~80-159 px: a thin
    # pen line stays at full strength, where averaging would fade it below the threshold.
    pool = max(1, max(bottom - top, right - left) * factor // DETAIL_SIZE)
    y0, y1 = t * factor, min(b * factor, gray.shape[0])
    x0, x1 = l * factor, min(r * factor, gray.shape[1])
    crop = gray[y0:y1, x0:x1]
    darkest_or_lightest = cv2.erode if sign < 0 else cv2.dilate
    ink = sign * (pool_blocks(crop, pool, darkest_or_lightest) - paper.surface(y0, y1, x0, x1, pool))
    # Below `low` is paper grain: 3 noise sigmas, but never more than half the ink level.
    low = min(max(3 * pixel_noise(crop), 0.15 * level), 0.5 * level)
    strength = np.clip((ink - low) / (level - low), 0, 1)
    # Keep only the chosen components' neighbourhood: map each pooled pixel's centre to the small mask.
    rows = np.minimum((y0 + (np.arange(ink.shape[0]) + 0.5) * pool) // factor - t, region.shape[0] - 1)
    cols = np.minimum((x0 + (np.arange(ink.shape[1]) + 0.5) * pool) // factor - l, region.shape[1] - 1)
    return strength * region[rows.astype(int)[:, None], cols.astype(int)[None, :]]


def _match_strokes(detail: np.ndarray) -> np.ndarray:
    """Bring strokes to MNIST's width after scaling: thicken a fine pen in a big photo, thin a bold marker."""
    core = detail >= 0.5
    box = bbox(core)
    if box is None:
        raise NoDigitError(NO_DIGIT)
    long_side = max(box[1] - box[0], box[3] - box[2])
    width = stroke_width(core[box[0] : box[1], box[2] : box[3]])
    if width * BOX / long_side < STROKE_MIN:
        extra = STROKE_TARGET * long_side / BOX - width  # px of width to add
        return dilate(detail, 2 * int(round(extra / 2)) + 1)
    if width * BOX / long_side > STROKE_MAX:
        excess = width - STROKE_MAX * long_side / BOX  # px of width to take away
        return erode(detail, 2 * int(round(excess / 2)) + 1)
    return detail


def _fit_box(detail: np.ndarray) -> np.ndarray:
    """Scale the digit so the longer side of its stroke cores is BOX px, keeping the aspect ratio."""
    core = bbox(detail >= 0.5)
    ink = bbox(detail > 0)
    if core is None or ink is None:
        raise NoDigitError(NO_DIGIT)
    scale = BOX / max(core[1] - core[0], core[3] - core[2])
    digit = detail[ink[0] : ink[1], ink[2] : ink[3]]
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    digit = resize(digit, size)
    peak = float(digit.max())
    if peak <= 0:
        raise NoDigitError(NO_DIGIT)
    return digit / peak  # MNIST stroke cores saturate; a thin, averaged stroke must still reach 255


def _place(digit: np.ndarray) -> np.ndarray:
    """Put the digit in a 28×28 frame with its centre of mass on the centre pixel (14, 14), as MNIST does."""
    row, col = centre_of_mass(digit)
    top = int(np.floor(SIZE / 2 - row + 0.5))
    left = int(np.floor(SIZE / 2 - col + 0.5))
    frame = np.zeros((SIZE, SIZE), np.float32)
    h, w = digit.shape
    fy0, fx0 = max(top, 0), max(left, 0)
    fy1, fx1 = min(top + h, SIZE), min(left + w, SIZE)
    frame[fy0:fy1, fx0:fx1] = digit[fy0 - top : fy1 - top, fx0 - left : fx1 - left]
    return to_uint8(frame)
