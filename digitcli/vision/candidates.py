"""Candidate digits: several generic ways of finding the ink propose 28×28 inputs; the network chooses.

Recognition-driven segmentation (LeCun et al. 1998, the check reader): rather than decide with rules
which ink is the digit, propose the plausible cuts and let the classifier's own evidence pick one.
The proposals are generic: both polarities; a global threshold (half the ink level, and Otsu's) and
a local one (adaptiveThreshold); of each mask, the largest component with its neighbours, the same
among components that stay clear of the picture's edge (a frame, a desk's edge or a sleeve runs off
it), and all the ink.  The detailed search (vision.find) is one candidate among them;
network.choice picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitcli.errors import NO_DIGIT, NoDigitError
from digitcli.vision.find import Found, Ink
from digitcli.vision.frame import digit_input
from digitcli.vision.ops import shrink, to_uint8
from digitcli.vision.paper import Paper, against_paper, fit_paper, ink_level, pixel_noise

SPECK = 0.03  # components whose longer side is under this share of the picture's are specks
CANDIDATE_SIZE = 256  # the masks are made on a copy at most this many px across (the search's: 512)
NEAR = 0.25  # components within this share of the main one's size of its box belong with it


@dataclass(frozen=True)
class Candidates:
    """The proposed digits of one picture: their 28×28 uint8 inputs and where each came from.

    The detailed search's, when it found something, comes first (see network.choice)."""

    pixels: np.ndarray  # (K, 28, 28) uint8
    sources: tuple[str, ...]


def propose(gray: np.ndarray, searched: np.ndarray | None) -> Candidates:
    """The candidates for a grey picture (float in [0, 1]): the detailed search's input `searched`
    (None if it found nothing), then the others.  Raises NoDigitError when there are none."""
    pixels = [] if searched is None else [searched]
    sources = [] if searched is None else ["search"]
    factor = max(1, -(-max(gray.shape) // CANDIDATE_SIZE))
    small = shrink(gray, factor)
    for surface, paper in (("fitted", fit_paper(gray)), ("flat", _flat_paper(small, gray.shape))):
        residual = against_paper(small, paper, factor)
        noise = pixel_noise(residual)
        for sign in (-1.0, 1.0):
            ink = sign * residual
            try:
                level = ink_level(ink, noise)
            except NoDigitError:
                continue
            seen: list[np.ndarray] = []
            for threshold, mask in _masks(ink, max(level / 2, 3 * noise), noise):
                for grouping, keep in _groupings(mask):
                    if any(np.array_equal(keep, other) for other in seen):
                        continue
                    seen.append(keep)
                    try:
                        pixels.append(digit_input(Found(gray, Ink(keep, paper, sign, level), factor, (0, 0))))
                    except NoDigitError:
                        continue
                    sources.append(f"{surface}-{threshold}-{grouping}-{'light' if sign > 0 else 'dark'}")
    if not pixels:
        raise NoDigitError(NO_DIGIT)
    return Candidates(np.stack(pixels), tuple(sources))


def _flat_paper(small: np.ndarray, shape: tuple[int, int]) -> Paper:
    """Paper of one brightness: the typical value of the larger side of Otsu's split of the picture.

    The fitted surface bends to follow ink that covers much of a tight crop (the ring of a 0 that
    touches every edge); a flat paper cannot."""
    values = to_uint8(small)
    level, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    above = values > level
    side = above if np.count_nonzero(above) * 2 >= values.size else ~above
    coef = np.zeros((3, 3))
    coef[0, 0] = float(np.median(small[side]))
    return Paper(coef, shape)


def _masks(ink: np.ndarray, floor: float, noise: float) -> list[tuple[str, np.ndarray]]:
    """Thresholded ink: at half the ink level, at Otsu's threshold, and against the local neighbourhood."""
    scaled = np.clip(ink / max(float(ink.max()), 1e-6) * 255, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    block = max(3, (max(ink.shape) // 8) | 1)
    offset = max(1.0, 3 * noise / max(float(ink.max()), 1e-6) * 255)
    local = cv2.adaptiveThreshold(scaled, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -offset) > 0
    return [("level", ink > floor),
            ("otsu", (scaled > otsu) & (ink > 3 * noise)),
            ("local", local & (ink > floor / 2))]


def _groupings(mask: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Of the mask's components, specks aside: the main one with its neighbours, the same among
    components clear of the picture's edge, and all of them."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    h, w = mask.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    kept = np.maximum(right - x, bottom - y) >= SPECK * max(h, w)
    kept[0] = False  # the background
    if not kept.any():
        return []
    inner = kept & (x > 0) & (y > 0) & (right < w) & (bottom < h)
    groups = [("main", _main_group(labels, x, y, right, bottom, area, kept))]
    if inner.any() and not np.array_equal(inner, kept):
        groups.append(("inner", _main_group(labels, x, y, right, bottom, area, inner)))
    groups.append(("all", kept[labels]))
    return groups


def _main_group(labels, x, y, right, bottom, area, allowed) -> np.ndarray:
    """The largest allowed component and the allowed ones whose boxes come near its box."""
    main = int(np.argmax(np.where(allowed, area, -1)))
    reach = NEAR * max(right[main] - x[main], bottom[main] - y[main])
    near = (allowed & (x < right[main] + reach) & (right > x[main] - reach)
            & (y < bottom[main] + reach) & (bottom > y[main] - reach))
    return near[labels]
