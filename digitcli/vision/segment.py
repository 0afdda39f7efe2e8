"""Whole numbers: find each digit in a picture of a number, left to right, as MNIST 28×28 inputs.

The picture is opened, its paper modelled and its ink found exactly as for a single digit
(preprocess.locate_ink), except that the ink components kept are a row of digits rather than one
digit: ruled lines and margins are taken out of the ink first (a digit written across one is
otherwise one component with it), and a desk or shadow edge along the border that outshone the
ink is covered with paper before looking again.  The row is then cut into digits:

1. estimate the writing's slant (the shear that opens the most empty columns between digits), so
   that slanted neighbours do not seem to overlap;
2. components that overlap horizontally (after the shear) are one digit: the detached bar of a 5,
   a pencil stroke with a gap; a piece too short to be a digit, or hanging above the baseline
   (the open top of a 4), joins its nearest neighbour;
3. a component much wider than a digit is two (or more) touching digits: cut it at the columns of
   least ink near where the cuts are expected;
4. every digit goes through the single-digit pipeline's last steps (preprocess.digit_input:
   cut out, stroke width, 20 px box, centre of mass).

NumPy and OpenCV, like preprocess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from digitcli.errors import NoDigitError
from digitcli.vision.decode import open_gray
from digitcli.vision.components import components, labelled, paint, without_lines
from digitcli.vision.find import Found, locate_ink
from digitcli.vision.frame import digit_input
from digitcli.vision.ops import as_unit_float, dilate, shrink, square

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the picture's pixels, end-exclusive

SHEARS = np.linspace(-0.6, 0.6, 25)  # slants tried: x moves by shear × (rows above the centre)
PIECE_OVERLAP = 0.5  # pieces overlapping by half the narrower one's width are one digit
ROW_OVERLAP = 0.4  # a digit shares at least this much of its height with its neighbour in the row
ROW_GAP = 2.5  # ... and is at most this many digit heights away from it
DIGIT_HEIGHT = 0.45  # a digit is at least this fraction of the row's tallest digit's height
PIECE_AREA = 0.04  # a piece smaller than this fraction of a typical digit's ink is a speck
SHORT = 0.7  # a group shorter than this fraction of the row's height is a piece of a digit
FLOAT = 0.25  # ... or one ending this far above its neighbour's bottom (digits share a baseline) ...
JOIN_GAP = 0.15  # ... and joins a neighbour at most this many row heights away
FRAGMENT = 0.5  # a piece left alone and shorter than this fraction of the row is dropped
DIGIT_WIDTH = 0.7  # the widest a typical digit is, in digit heights
TOUCHING = 1.3  # a group wider than this many typical digit widths ...
WIDE = 1.0  # ... and this many times its own height is touching digits
PLAUSIBLE_ASPECT = 0.9  # digits are taller than wide; the pieces of a cut-up edge are not
COVER_TRIES = 2  # looks again after covering a desk edge that outshone the ink
EDGE_CLUTTER = 0.3  # ... one running along the edge for this fraction of the picture
WORK_SIZE = 512  # the ink is searched on a copy this size, as for one digit (768 and 1024 measured worse:
# more broken strokes, no more digits found)


@dataclass(frozen=True)
class Segmentation:
    """The digits found, left to right: boxes in the opened picture's pixels and the network's inputs."""

    boxes: list[Box] = field(default_factory=list)
    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


def find_digits(source: Path | str | np.ndarray, *, split_touching: bool = True) -> Segmentation:
    """Find the digits of a number in a picture file or grey array (float in [0, 1], 1 = white; or uint8).

    Boxes are (x0, y0, x1, y1) in the picture as opened (after EXIF rotation), end-exclusive;
    inputs are (n, 28, 28) float32 with the values 0..255 that single-digit preprocessing gives.
    No digit found gives an empty Segmentation; a file that cannot be opened raises InputError.
    """
    if isinstance(source, (str, Path)):
        gray = open_gray(Path(source))  # full size: boxes are in the file's own pixels
    else:
        gray = as_unit_float(source)
    try:
        found = _locate(gray)
    except NoDigitError:
        return Segmentation()
    for _ in range(COVER_TRIES):
        # A desk or shadow edge along the picture's border was darker than the ink, so it set the
        # ink level and the digits fell below it: cover it with paper and look again.
        cover = _edge_clutter(found)
        if cover is None:
            break
        picture = np.where(cover, np.float32(np.median(found.gray[::4, ::4][~cover[::4, ::4]])), found.gray)
        try:
            again = _locate(picture)
        except NoDigitError:
            break
        offset = (found.offset[0] + again.offset[0], found.offset[1] + again.offset[1])
        found = Found(again.gray, again.ink, again.factor, offset)
    seg = _split(found, split_touching)
    if found.ink.sign > 0 and found.ink.paper.coef[0, 0] <= 0.5 and _plausible(seg):
        return seg  # light ink on a dark ground (chalk on a board): the lighting is not in the way
    # Dark ink, or light "ink" on light paper (a lit patch beside a shadow), or no number in sight:
    # look again with the lighting divided out, which shadows and desk edges cannot survive.
    try:
        flat = _split(_locate(_flattened(gray)), split_touching)
    except NoDigitError:
        return seg
    if not len(seg) or _plausible(flat) and (len(flat) >= len(seg) or not _plausible(seg) or found.ink.sign > 0):
        return flat
    return seg


def _plausible(seg: Segmentation) -> bool:
    """True if what was found looks like a number: two digits or more, typically taller than wide."""
    if len(seg) < 2:
        return False
    widths = [x1 - x0 for x0, _, x1, _ in seg.boxes]
    heights = [y1 - y0 for _, y0, _, y1 in seg.boxes]
    return float(np.median(heights)) >= PLAUSIBLE_ASPECT * float(np.median(widths))


def _flattened(gray: np.ndarray) -> np.ndarray:
    """The picture divided by its paper's brightness, estimated by a grey closing wider than any stroke."""
    k = max(1, max(gray.shape) // 256)
    small = shrink(gray, k)
    size = max(3, (max(small.shape) // 8) | 1)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, square(size))
    paper = np.asarray(Image.fromarray(np.ascontiguousarray(paper, np.float32)).resize(gray.shape[::-1], Image.Resampling.BILINEAR))
    return np.clip(gray / np.maximum(paper, 1 / 255), 0, 1).astype(np.float32)


def _locate(gray: np.ndarray) -> Found:
    """The ink of the number, found as preprocess finds a single digit's but choosing a row of digits."""
    return locate_ink(gray, lambda found: found, select=_row_mask, work_size=WORK_SIZE)


def _edge_clutter(found: Found) -> np.ndarray | None:
    """A full-size mask over kept components that run along the picture's edge for a third of it, or None."""
    keep = found.ink.keep
    h, w = keep.shape
    c = labelled(keep)
    top, bottom, left, right = c.top, c.bottom, c.left, c.right
    on_edge = (top == 0) | (bottom == h) | (left == 0) | (right == w)
    big = on_edge & ((right - left >= EDGE_CLUTTER * w) | (bottom - top >= EDGE_CLUTTER * h))
    if not big.any():
        return None
    small = dilate(paint(c, big), 5)
    f = found.factor
    full = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
    return full[: found.gray.shape[0], : found.gray.shape[1]]


# --- which ink is the number -------------------------------------------------------------------


def _row_mask(mask: np.ndarray) -> np.ndarray:
    """Keep the components that form a row of digits (and their broken pieces); drop specks and clutter.

    The row starts at the component single-digit preprocessing would take for the digit (so its
    second looks at shadows and desks work the same) and grows to neighbours of a similar height
    that share its band, one neighbour at a time, so a rising or falling baseline is followed.
    """
    mask = without_lines(mask)
    c = components(mask)
    top, bottom, left, right, area = c.top, c.bottom, c.left, c.right, c.area
    height = bottom - top
    main = c.main
    digit = (c.score > 0) & (height >= DIGIT_HEIGHT * height[main]) & (height <= height[main] / DIGIT_HEIGHT)
    digit &= ~c.touches | c.touches[main]
    row = np.zeros(c.labels.count, bool)
    row[main] = True
    frontier = [main]
    while frontier:
        i = frontier.pop()
        shared = np.minimum(bottom, bottom[i]) - np.maximum(top, top[i])
        gap = np.maximum(left - right[i], left[i] - right)
        near = digit & ~row & (shared >= ROW_OVERLAP * np.minimum(height, height[i])) & (gap <= ROW_GAP * height[i])
        row |= near
        frontier += list(np.flatnonzero(near))
    # Broken pieces: smaller components over or under a digit (a bar, a stroke's end, a dot-free part).
    tall = height[row].max()
    typical = float(np.median(area[row]))
    pieces = np.zeros(c.labels.count, bool)
    for i in np.flatnonzero(row):
        pieces |= (right > left[i]) & (left < right[i]) & (bottom > top[i] - 0.25 * tall) & (top < bottom[i] + 0.25 * tall)
    pieces &= ~c.clutter & ~row & (area >= PIECE_AREA * typical) & (height <= 1.5 * tall)
    return paint(c.labels, row | pieces)


# --- cutting the row into digits ---------------------------------------------------------------


def _split(found: Found, split_touching: bool) -> Segmentation:
    """Cut the kept ink into digits and prepare each one like a single digit."""
    keep = found.ink.keep
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return Segmentation()
    centre = float(rows.mean())
    shear = _slant(rows, cols, centre)
    x = cols - shear * (rows - centre)  # column with the slant taken out

    labels = labelled(keep)
    component = labels.image[rows, cols] - 1
    n = labels.count
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, component, x)
    np.maximum.at(hi, component, x + 1)
    top, bottom = labels.top, labels.bottom
    groups = _merge_overlapping(lo, hi, top, bottom)

    digits: list[np.ndarray] = []  # one boolean selection of the ink pixels per digit
    widths = [hi[g].max() - lo[g].min() for g in groups]
    heights = [bottom[g].max() - top[g].min() for g in groups]
    typical = _typical_width(widths, heights)
    for g, width, height in zip(groups, widths, heights):
        chosen = np.isin(component, g)
        # Wider than a digit beside its neighbours, and wider than tall: a wide 4, 0 or bold font is not.
        if split_touching and width > TOUCHING * typical and width > WIDE * height:
            digits += _cut(chosen, x, round(width / typical))
        else:
            digits.append(chosen)
    digits.sort(key=lambda chosen: float(np.median(x[chosen])))

    boxes, inputs = [], []
    for chosen in digits:
        mask = np.zeros(keep.shape, bool)
        mask[rows[chosen], cols[chosen]] = True
        try:
            inputs.append(digit_input(found, mask).astype(np.float32))
        except NoDigitError:
            continue  # a sliver too faint to be a digit after all
        boxes.append(_box(found, rows[chosen], cols[chosen]))
    if not boxes:
        return Segmentation()
    return Segmentation(boxes, np.stack(inputs))


def _slant(rows: np.ndarray, cols: np.ndarray, centre: float) -> float:
    """The shear that leaves the most empty columns across the row: gaps between slanted digits open up."""
    best, best_empty = 0.0, -1
    for shear in SHEARS:
        x = np.round(cols - shear * (rows - centre)).astype(int)
        used = np.unique(x)
        empty = (used[-1] - used[0] + 1) - used.size
        # Ties go to the smallest slant: upright unless the gaps say otherwise.
        if empty > best_empty or (empty == best_empty and abs(shear) < abs(best)):
            best, best_empty = float(shear), empty
    return best


def _merge_overlapping(lo: np.ndarray, hi: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> list[list[int]]:
    """Group the components into digits by their (deslanted) column ranges and heights.

    Components overlapping by half the narrower one's width are one digit (the bar of a 5 over its
    body).  Then a group much shorter than the row's digits cannot be a digit by itself (the open
    top of a 4, the tail of a 6 with a faint join): it joins the neighbour it overlaps most or is
    nearest to, if that neighbour is close and the two together are no wider than a digit.
    """
    order = np.argsort((lo + hi) / 2)
    groups: list[list[int]] = []
    for i in order:
        best, best_share = None, 0.0
        for k, g in enumerate(groups):
            g_lo, g_hi = lo[g].min(), hi[g].max()
            overlap = min(hi[i], g_hi) - max(lo[i], g_lo)
            share = overlap / max(min(hi[i] - lo[i], g_hi - g_lo), 1)
            if share >= PIECE_OVERLAP and share > best_share:
                best, best_share = k, share
        if best is None:
            groups.append([int(i)])
        else:
            groups[best].append(int(i))
    while len(groups) > 1 and _join_a_piece(groups, lo, hi, top, bottom):
        pass
    # What is still much shorter than the row is a fragment no neighbour could take (a speck that
    # survived, a remnant of a ruled line): not a digit.
    heights = [bottom[g].max() - top[g].min() for g in groups]
    return [g for g, h in zip(groups, heights) if h >= FRAGMENT * np.median(heights)]


def _join_a_piece(groups: list[list[int]], lo, hi, top, bottom) -> bool:
    """Join one piece of a digit to its nearest neighbour that stays no wider than a digit; False if none."""
    spans = [(lo[g].min(), hi[g].max(), top[g].min(), bottom[g].max()) for g in groups]
    row_height = float(np.median([b - t for _, _, t, b in spans]))
    for k in np.argsort([b - t for _, _, t, b in spans]):  # the shortest first
        a0, a1, t0, b0 = spans[k]
        # Neighbours nearest first (a negative gap is an overlap).
        for gap, j in sorted((max(a0, c0) - min(a1, c1), j) for j, (c0, c1, _, _) in enumerate(spans) if j != k):
            if gap > JOIN_GAP * row_height:
                break
            # A piece is short, or hangs well above its neighbour's baseline (the open top of a 4).
            piece = b0 - t0 < SHORT * row_height or spans[j][3] - b0 > FLOAT * row_height
            if piece and max(a1, spans[j][1]) - min(a0, spans[j][0]) <= row_height:
                piece_ids = groups.pop(k)
                groups[j - (j > k)] += piece_ids  # indices after k moved down by one
                return True
    return False


def _typical_width(widths: list[float], heights: list[float]) -> float:
    """A single digit's width: the median of groups that are neither a narrow 1 nor touching digits.

    At most DIGIT_WIDTH of the height, in case most groups are touching pairs (a number of two).
    """
    tall = max(heights)
    normal = [w for w, h in zip(widths, heights) if 0.4 * tall <= w <= 1.1 * tall]
    return min(float(np.median(normal)), DIGIT_WIDTH * tall) if normal else DIGIT_WIDTH * tall


def _cut(chosen: np.ndarray, x: np.ndarray, count: int) -> list[np.ndarray]:
    """Cut touching digits into `count` parts at the columns of least ink near the expected cuts."""
    xs = x[chosen]
    start, stop = xs.min(), xs.max() + 1
    step = (stop - start) / count
    bins = np.floor(xs - start).astype(int)
    profile = np.bincount(bins, minlength=int(np.ceil(stop - start)))
    cuts = [start]
    for k in range(1, count):
        expected = k * step
        lo, hi = int(expected - 0.3 * step), int(expected + 0.3 * step) + 1
        window = profile[max(lo, 0) : hi]
        cuts.append(start + max(lo, 0) + int(np.argmin(window)) + 0.5)
    cuts.append(stop)
    where = np.flatnonzero(chosen)
    parts = []
    for a, b in pairwise(cuts):
        part = np.zeros_like(chosen)
        part[where[(xs >= a) & (xs < b)]] = True
        if part.any():
            parts.append(part)
    return parts


def _box(found: Found, rows: np.ndarray, cols: np.ndarray) -> Box:
    """The digit's box in the opened picture's pixels, from its pixels on the small copy."""
    f = found.factor
    h, w = found.gray.shape
    y0, x0 = found.offset
    return (
        x0 + int(cols.min()) * f,
        y0 + int(rows.min()) * f,
        x0 + min((int(cols.max()) + 1) * f, w),
        y0 + min((int(rows.max()) + 1) * f, h),
    )
