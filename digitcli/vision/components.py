"""Connected components of an ink mask: which one is the digit, and the ruled lines to take out first."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitcli.errors import NO_DIGIT, NoDigitError
from digitcli.vision.ops import square


RULED_LENGTH = 0.5  # a ruled line has a run of ink at least this share of the picture's width,
MARGIN_LENGTH = 0.7  # a margin line one of at least this share of its height,
LINE_COVER = 0.9  # and both have ink along this share of it (noise or fading may break them)
THIN_LINE = 0.02  # a straight component thinner than this for its length is a line, not a stroke
LINE_REACH = 2  # a line's pixels reach this many px beside its longest run (its width, a slight slant)


@dataclass(frozen=True)
class _Labels:
    """The 8-connected components of a mask: a label image and each component's box and area."""

    image: np.ndarray  # int32: 0 off the mask, i + 1 on component i
    count: int
    top: np.ndarray
    bottom: np.ndarray  # exclusive
    left: np.ndarray
    right: np.ndarray  # exclusive
    area: np.ndarray


def labelled(mask: np.ndarray) -> _Labels:
    """Label the mask's 8-connected components, numbered in the order a raster scan meets them.

    That order (SAUF's, pixel by pixel; the block-based default numbers by pairs of rows) keeps
    ties between equally good components going to the topmost, then leftmost, as they always have.
    """
    count, image, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        np.ascontiguousarray(mask, dtype=bool).view(np.uint8), 8, cv2.CV_32S, cv2.CCL_SAUF
    )
    left, top, width, height, area = stats[1:, :5].astype(np.int64).T  # row 0 is the background
    return _Labels(image, count - 1, top, top + height, left, left + width, area)


def row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every horizontal run of True in `mask`: its row, first column and end column (exclusive)."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    row, start = np.nonzero(edges == 1)
    return row, start, np.nonzero(edges == -1)[1]


def paint(labels: _Labels, keep: np.ndarray) -> np.ndarray:
    """The mask of the kept components."""
    # np.take on the lookup table: about twice as fast as indexing it with the label image.
    return np.take(np.concatenate(([False], keep)), labels.image)


@dataclass(frozen=True)
class Components:
    """The connected components of a thresholded ink mask, measured, and the one that is most digit-like."""

    labels: _Labels
    area: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray
    touches: np.ndarray  # touches the picture's edge
    line: np.ndarray  # a line from the edge across most of the picture
    clutter: np.ndarray  # ruled out: a line across, a solid patch across the edge, a sheet's outline
    score: np.ndarray  # how digit-like (0 for clutter and crumbs)
    main: int  # the most digit-like component


def components(mask: np.ndarray, ruled_out: np.ndarray | None = None) -> Components:
    """Label the mask's components and find the main one: the digit, or one digit of a number.

    The main component is the largest one, with a handicap for touching the picture's edge (paper
    edges, shadows, neighbours cut by the frame); long edge contact or a solid blob across the edge
    rules a component out, unless it is all there is (a digit cropped tightly or drawn to the edge).
    So do a straight line (at any slant) from the edge across most of the picture, a very thin
    straight one at least 0.3 of the picture long even if it fades out before the edge (a ruled
    line in uneven light), a band from one side of the picture to the opposite one (a strip of
    desk), and a component framing a much smaller one (a sheet's outline); filled round blobs
    (specks, blots) are handicapped like edge contact.
    Components with a pixel in `ruled_out` are clutter too.
    """
    h, w = mask.shape
    labels = labelled(mask)
    n = labels.count
    if n == 0:
        raise NoDigitError(NO_DIGIT)
    area, top, bottom, left, right = labels.area, labels.top, labels.bottom, labels.left, labels.right
    image = labels.image
    edge = [image[0], image[-1]] if h > 1 else [image[0]]
    edge = np.concatenate(edge + [image[1:-1, 0], image[1:-1, -1]])
    contact = np.bincount(edge, minlength=n + 1)[1:]  # pixels on the picture's edge
    height, width = bottom - top, right - left
    long_side = np.maximum(height, width)
    fill = area / (height * width)

    touches = contact > 0
    spans = (height >= 0.5 * h) | (width >= 0.5 * w)
    # A line from the picture's edge across most of it is a ruled line, a page edge or a border.
    across = ((width >= 0.7 * w) & (height <= 0.1 * width)) | ((height >= 0.7 * h) & (width <= 0.1 * height))
    # So is a slanted one (the edge of a sheet or desk, a shadow's rim), which the box test misses,
    # and a band crossing from one side to the opposite one (a strip of desk beside a sheet): a
    # digit that crosses the picture is a tight crop, where it is all there is (see below).
    crosses = ((top == 0) & (bottom == h)) | ((left == 0) & (right == w))
    long_line = long_side >= 0.3 * max(h, w)
    # Only these few can be lines: their thinness alone is measured (the rest read as inf).
    thinness = line_thinness(labels, which=(touches & (spans | crosses)) | long_line)
    line = touches & (across | (spans & (thinness <= 0.1)) | (crosses & (thinness <= 0.25)))
    # A ruled or margin line that fades out before the picture's edge (vignetting, uneven light) is
    # still far straighter and thinner for its length than a digit's stroke, even a 1's.
    line |= long_line & (thinness <= THIN_LINE)
    clutter = (contact >= 0.35 * (2 * (h + w) - 4)) | (touches & (fill >= 0.6) & spans) | line
    if ruled_out is not None:
        clutter |= np.bincount(image[ruled_out], minlength=n + 1)[1:] > 0
    big_enough = (long_side >= max(3, 0.02 * max(h, w))) & (area >= 4)
    # A filled, roundish blob is a speck or a blot, not a digit (a bold 1 is a filled bar, but a tall one).
    blob = (fill >= 0.6) & (height < 2 * width) & (width < 2 * height)
    score = area * np.where(touches | blob, 0.25, 1.0) * big_enough
    if not np.any(score * ~clutter > 0) or (score * ~clutter).max() < 0.03 * (score * clutter).max():
        # Only clutter, or what is left beside it is crumbs: the big thing is the digit after all.
        clutter = np.zeros(n, bool)
    score = score * ~clutter
    if score.max() <= 0:
        raise NoDigitError(NO_DIGIT)
    main = int(np.argmax(score))
    framed = (top > top[main]) & (bottom < bottom[main]) & (left > left[main]) & (right < right[main])
    if np.any(framed & (score >= 0.1 * score[main]) & (2 * long_side < long_side[main])):
        # The biggest thing frames a smaller one, like the outline of a sheet or a box drawn around
        # the digit: the digit is inside.
        clutter[main] = True
        score[main] = 0
        main = int(np.argmax(score))
    return Components(labels, area, top, bottom, left, right, touches, line, clutter, score, main)


def line_thinness(labels: _Labels, which: np.ndarray | None = None) -> np.ndarray:
    """Each component's width across its main axis over its length along it (from second moments).

    About thickness / length for a straight band whatever its slant; far more for a digit, whose
    strokes turn (a 1 is a line, but one that rarely spans the picture).  With `which` (a mask
    over the components), only those are measured, inside their boxes, and the rest read as inf:
    the same sums in the same order (bincount adds in raster order), so the same values.
    """
    if which is None:
        rows, cols = np.nonzero(labels.image)
        label = labels.image[rows, cols]
        x, y = cols.astype(np.float64), rows.astype(np.float64)
        sums = [np.bincount(label, weights=v, minlength=labels.count + 1)[1:] for v in (x, x * x, y, y * y, x * y)]
    else:
        sums = [np.zeros(labels.count) for _ in range(5)]
        for i in np.flatnonzero(which):
            t, b, l, r = labels.top[i], labels.bottom[i], labels.left[i], labels.right[i]
            rows, cols = np.nonzero(labels.image[t:b, l:r] == i + 1)
            x, y = (cols + l).astype(np.float64), (rows + t).astype(np.float64)
            first = np.zeros(len(x), np.intp)
            for total, v in zip(sums, (x, x * x, y, y * y, x * y)):
                total[i] = np.bincount(first, weights=v, minlength=1)[0]
    area = labels.area
    mx, my = sums[0] / area, sums[2] / area
    vxx, vyy, vxy = sums[1] / area - mx**2, sums[3] / area - my**2, sums[4] / area - mx * my
    # Eigenvalues of the covariance: the spreads along the main axis and across it.
    mean, diff = (vxx + vyy) / 2, np.sqrt(((vxx - vyy) / 2) ** 2 + vxy**2)
    thinness = np.sqrt(np.clip(mean - diff, 0, None) / np.maximum(mean + diff, 1e-12))
    if which is not None:
        thinness[~which] = np.inf
    return thinness


def digit_mask(mask: np.ndarray) -> np.ndarray:
    """Keep the connected components that form the digit; drop specks, paper edges and shadows.

    Ruled and margin lines are taken out first (see without_lines).  The digit is the main
    component (see components()); pieces at least a tenth of its size nearby (a detached bar of a
    5, broken pencil strokes) join it.
    """
    c = _components_without_lines(mask)
    top, bottom, left, right, area, clutter, touches = c.top, c.bottom, c.left, c.right, c.area, c.clutter, c.touches
    keep = np.zeros(c.labels.count, bool)
    keep[c.main] = True
    for _ in range(4):  # grow the group a few times: each new piece widens the search box
        t, b, l, r = top[keep].min(), bottom[keep].max(), left[keep].min(), right[keep].max()
        margin = 0.25 * max(b - t, r - l)
        near = (bottom > t - margin) & (top < b + margin) & (right > l - margin) & (left < r + margin)
        inside = (top >= t) & (bottom <= b) & (left >= l) & (right <= r)
        main_area = area[keep].max()
        allowed = ~clutter & (~touches | touches[keep].any())
        joined = keep | (allowed & ((near & (area >= 0.1 * main_area)) | (inside & (area >= 0.02 * main_area))))
        if np.array_equal(joined, keep):
            break
        keep = joined
    return paint(c.labels, keep)


def _components_without_lines(mask: np.ndarray) -> Components:
    """components() of the mask with ruled and margin lines taken out.

    Taking a line out can cut clutter into pieces: a sheet's outline or a desk's edge loses a
    side, and what is left of it would look like a 1.  So the pieces of anything ruled out as
    clutter, other than a line (which may have a digit written across it), stay ruled out.
    """
    cleaned = without_lines(mask)
    if cleaned is mask:
        return components(mask)
    whole = components(mask)
    return components(cleaned, ruled_out=paint(whole.labels, whole.clutter & ~whole.line))


def without_lines(mask: np.ndarray) -> np.ndarray:
    """The mask without ruled lines and margin lines, keeping the strokes of digits written across them.

    A digit written across a line is one component with it, which would rule it out as clutter.
    The mask itself (not a copy) when it has no such line.
    """
    # Margin lines first, then ruled lines. Both cross the whole picture, where a digit's bar or a
    # tall 1 in a tight crop stops short of it.
    margin = _line_pixels(mask.T, MARGIN_LENGTH)
    if margin is not None and margin.any():
        mask = mask & ~margin.T
    ruled = _line_pixels(mask, RULED_LENGTH)
    return mask if ruled is None or not ruled.any() else mask & ~ruled


def _line_pixels(mask: np.ndarray, length: float) -> np.ndarray | None:
    """The pixels of thin horizontal lines across the mask, except where a stroke crosses them (None: no line).

    A line has a run of ink at least `length` × the width, and ink within LINE_REACH rows along
    LINE_COVER × the width: it crosses the whole picture, though noise or fading may break it,
    where a digit's bar in a narrow picture stops short.  Only thin lines count (a patch of shadow or desk
    has long rows too, and must stay whole for the second looks); where a stroke crosses a line,
    ink lies just above and just below the line's pixels, so those stay.
    """
    h, w = mask.shape
    # Only rows with that much ink can hold such a run: finding runs in every row would cost more
    # than the rest of the search for the digit.
    candidates = np.flatnonzero(np.count_nonzero(mask, axis=1) >= length * w)
    row, start, stop = row_runs(mask[candidates])
    row = candidates[row]
    long = stop - start >= length * w
    if not long.any():
        return None
    long &= (np.count_nonzero(grow_rows(mask, LINE_REACH), axis=1) >= LINE_COVER * w)[row]
    line = np.zeros((h, w + 1), np.int8)
    np.add.at(line, (row[long], start[long]), 1)
    np.add.at(line, (row[long], stop[long]), -1)
    # The rows beside the longest run are the line's too where they have ink: a line 2 px wide,
    # or slightly slanted, is not one long run in each of its rows, and its leftovers would look
    # like a thin stroke.
    line = grow_rows(np.cumsum(line, axis=1)[:, :-1] > 0, LINE_REACH) & mask
    rest = mask & ~line
    # Each column crosses the line in a stretch of line pixels: rows first to last (exclusive).
    stretches = np.zeros((w, h + 2), np.int8)
    stretches[:, 1:-1] = line.T
    col, first = np.nonzero(np.diff(stretches, axis=1) == 1)
    last = np.nonzero(np.diff(stretches, axis=1) == -1)[1]
    thick = last - first > max(3, 0.03 * h)  # a patch, not a line
    above = (first > 0) & rest[np.maximum(first - 1, 0), col]
    below = (last < h) & rest[np.minimum(last, h - 1), col]
    crossed = thick | (above & below)
    for r0, r1, c in zip(first[crossed], last[crossed], col[crossed]):
        line[r0:r1, c] = False
    return line


def grow_rows(mask: np.ndarray, reach: int) -> np.ndarray:
    """The mask grown up and down by `reach` rows."""
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), square(1, 2 * reach + 1)).view(bool)
