"""MNIST-faithful normalisation: a picture of one digit becomes a 28×28 uint8 array, white ink on black.

MNIST was made by scaling each digit so its longer side is 20 px (aspect kept, anti-aliased) and
placing it in a 28×28 frame so its centre of mass lands on the centre.  The network only works on
input prepared the same way, so the "auto" pipeline below turns a photo or scan into exactly that:

0. if the picture is a light sheet of paper on a darker desk (sharp, straight edges), look for the
   digit inside the sheet first: its edges and corners would pass for strokes below;
1. find the paper: fit a smooth (quadratic) surface to a sparse sample of pixels, rejecting
   outliers, which removes uneven lighting without being pulled by the ink;
2. decide polarity from which side of that surface the strong outliers lie (dark ink on paper or
   chalk on a board), so the ink becomes positive;
3. measure noise and ink contrast; too little contrast means there is no digit;
4. on a copy at most WORK_SIZE px across, threshold at half the ink level, take out ruled and
   margin lines (keeping the strokes that cross them) and keep the connected components that
   make up the digit (specks, paper edges and strips of desk running across the picture at any
   slant, long thin straight lines that fade before its edges, the desk around a page and what
   is left of them once a line is taken out are dropped;
   if all that is kept is a straight band running off the picture, a desk's edge darker than
   faint pencil may have set the level: fainter ink further in is looked for without it; if it is
   only a speck, darker specks may have: the level is measured without them);
5. if what was found is a broad patch rather than strokes, look again: with the lighting followed
   locally (hard shadows); if it is a light sheet of paper on a darker desk, or the paper inside
   a loop of a bold digit on such a sheet (it lies in a hole of the sheet), look inside the sheet
   first (its edges would pass for thin dark strokes); if it is still a solid patch, or light "ink"
   on paper that is light somewhere (a lit patch beside a shadow), with everything but thin dark
   strokes removed (a grey closing, which keeps the edges of shadows and sheets where they are);
   likewise when most of what was found is not thin strokes at all (a closing wider than any
   stroke leaves it as it is: the edge of a shadow or a desk, perhaps joined to the digit);
   or inside the patch when it turns out to be a sheet of paper on a darker desk; light "ink" that
   runs off the picture (the lit side of a shadow's edge, a lit strip) gives way to dark strokes
   inside the picture, looked for with the lighting followed locally;
6. cut the digit out of the full-resolution picture, map ink to [0, 1], shrink it to 80-159 px
   (max-pooling, so thin pen lines survive) and bring the strokes to MNIST's width: thicken a
   fine pen, thin a bold font or marker;
7. scale the longer side to 20 px with area averaging and place it by centre of mass.

The image primitives (components, morphology, hole filling, Otsu, pooling) are OpenCV's, the
rest vectorised NumPy. Pillow decodes, keeps a median filter (OpenCV's takes wide windows on 8-bit
pictures only) and still does the final resizes: OpenCV's area and Lanczos-4 filters moved digits
by a pixel and lost a picture on the tuning seeds (to be decided with the real yardsticks).  A 28×28 MNIST picture costs about 5 µs when
load_digits tests a batch of them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageFilter

from digitcli.errors import DigitcliError, InputError, NoDigitError, UsageError
from digitcli.vision.decode import open_gray

# predict's worker processes already use both cores: OpenCV's own thread pool would fight them.
cv2.setNumThreads(1)

MODES = ("auto", "none")
SIZE = 28  # MNIST frame
BOX = 20  # MNIST digits have their longer side scaled to 20 px
WORK_SIZE = 512  # the digit is searched for on a copy at most this many px across
DETAIL_SIZE = 80  # the cut-out digit is pooled down to 80-159 px before the final resize
DRAFT_SIZE = (800, 800)  # JPEGs may decode at 1/2, 1/4 or 1/8 while staying >= 800 px per side
FIT_SAMPLES = 64  # the background surface is fitted on about 64×64 sampled pixels
MIN_CONTRAST = 0.08  # ink must differ from the paper by 8 % of the full range ...
NOISE_SIGMAS = 6.0  # ... and by this many noise standard deviations
STROKE_TARGET = 2.0  # median MNIST stroke width in the 20-px box (test set, 50 % threshold)
STROKE_MIN = 1.6  # strokes thinner than this are thickened to the target
STROKE_MAX = 2.8  # strokes thicker than this (the widest 5 % of MNIST; bold fonts, markers) are thinned to it
LOCAL_FRACTION = 4  # the local lighting correction is a median over 1/4 of the picture
STROKE_WINDOW = 6  # the stroke-removing closing spans 1/6 of the picture: wider than any stroke
RULED_LENGTH = 0.5  # a ruled line has a run of ink at least this share of the picture's width,
MARGIN_LENGTH = 0.7  # a margin line one of at least this share of its height,
LINE_COVER = 0.9  # and both have ink along this share of it (noise or fading may break them)
THIN_LINE = 0.02  # a straight component thinner than this for its length is a line, not a stroke
LINE_REACH = 2  # a line's pixels reach this many px beside its longest run (its width, a slight slant)
SHEET_AREA = (0.04, 0.97)  # a sheet of paper on a desk covers this share of the picture,
SHEET_CONTRAST = 0.1  # and the desk around it is at least this much darker (medians, 0..1)
CRUMB = 0.06  # a find whose longer side is under this share of the picture's may be a speck
NO_DIGIT = "no digit found (the picture is blank or has too little contrast)"


def to_mnist(gray: np.ndarray, *, mode: str = "auto") -> np.ndarray:
    """Normalise a grey picture (float in [0, 1], 1 = white; uint8 also accepted) to MNIST's 28×28 uint8.

    mode="auto" finds the digit and prepares it like MNIST (an input that already is MNIST-like is
    returned unchanged); mode="none" only resizes to 28×28 and keeps the polarity.
    Raises NoDigitError when there is no ink to be found.
    """
    _check_mode(mode)
    gray = _as_unit_float(gray)
    if mode == "none":
        return _to_uint8(gray if gray.shape == (SIZE, SIZE) else _resize(gray, (SIZE, SIZE)))
    if gray.shape == (SIZE, SIZE) and _mnist_like(gray[None])[0]:
        return _to_uint8(gray)
    return _normalise(gray)


def load_digit(path: Path, *, mode: str = "auto") -> np.ndarray:
    """Open an image file and normalise it to MNIST's 28×28 uint8 (see to_mnist)."""
    outcome = load_digits([path], mode=mode)[0]
    if isinstance(outcome, DigitcliError):
        raise outcome
    return outcome


def load_digits(paths: Sequence[Path | str], *, mode: str = "auto") -> list[np.ndarray | DigitcliError]:
    """load_digit for many files: each one's 28×28 uint8, or the error that stopped it, in order.

    The MNIST-like test runs once for all the 28×28 pictures: on a folder of MNIST PNGs, NumPy's
    per-call overhead would otherwise cost half as much as decoding them. Larger pictures are
    prepared as soon as they are decoded, so only one of them is in memory at a time.
    """
    _check_mode(mode)
    outcomes: list = []
    small: list[int] = []  # 28×28 pictures, tested together below
    for path in paths:
        try:
            gray = open_gray(path, draft_size=DRAFT_SIZE)
        except DigitcliError as err:
            outcomes.append(err)
            continue
        if mode == "auto" and gray.shape == (SIZE, SIZE):
            small.append(len(outcomes))
            outcomes.append(gray)
        else:
            outcomes.append(_prepared(path, gray, mode))
    if small:
        stack = np.stack([outcomes[i] for i in small])
        for i, like, pixels in zip(small, _mnist_like(stack), _to_uint8(stack)):
            outcomes[i] = pixels if like else _prepared(paths[i], outcomes[i], mode)
    return outcomes


def _prepared(path: Path | str, gray: np.ndarray, mode: str) -> np.ndarray | NoDigitError:
    """to_mnist, with "no digit" as a value naming the file."""
    try:
        return to_mnist(gray, mode=mode)
    except NoDigitError as err:
        return NoDigitError(f"{path}: {err}")


# --- small helpers -------------------------------------------------------------------------------


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown preprocessing mode {mode!r}; choose one of: {', '.join(MODES)}")


def _as_unit_float(gray: np.ndarray) -> np.ndarray:
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


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round [0, 1] floats to 0..255 bytes."""
    return np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8)


def _resize(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float picture to (width, height): area averaging when shrinking, Lanczos when growing."""
    shrinking = size[0] <= values.shape[1] and size[1] <= values.shape[0]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.LANCZOS
    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.clip(np.asarray(img.resize(size, method)), 0, 1)


def _pool(values: np.ndarray, factor: int, operation: Callable) -> np.ndarray:
    """The maximum (operation=cv2.dilate) or minimum (cv2.erode) of factor×factor blocks (see _whole_blocks)."""
    if factor == 1:
        return values
    return _morph(operation, _whole_blocks(values, factor), factor, anchor=(0, 0))[::factor, ::factor]


def _shrink(values: np.ndarray, factor: int) -> np.ndarray:
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


def _square(size: int, height: int | None = None) -> np.ndarray:
    """A size×size (or size wide, height tall) rectangular structuring element."""
    return cv2.getStructuringElement(cv2.MORPH_RECT, (size, size if height is None else height))


def _dilate(values: np.ndarray, size: int) -> np.ndarray:
    """Grey dilation (maximum) over size×size squares, centred; outside the picture does not count."""
    return _morph(cv2.dilate, values, size)


def _erode(values: np.ndarray, size: int) -> np.ndarray:
    """Grey erosion (minimum) over size×size squares (see _dilate)."""
    return _morph(cv2.erode, values, size)


def _morph(operation: Callable, values: np.ndarray, size: int, anchor: tuple[int, int] = (-1, -1)) -> np.ndarray:
    """cv2.dilate or cv2.erode with a square (centred unless `anchor`); boolean masks go through as bytes."""
    if size <= 1:
        return values
    if values.dtype == bool:
        return operation(np.ascontiguousarray(values).view(np.uint8), _square(size), anchor=anchor).view(bool)
    return operation(values, _square(size), anchor=anchor)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Return (top, bottom, left, right), end-exclusive, of the True pixels, or None if there are none."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(mask, dtype=bool).view(np.uint8))
    return (y, y + h, x, x + w) if w else None


def _centre_of_mass(values: np.ndarray) -> tuple[float, float]:
    """Return the (row, column) centre of mass in pixel-index coordinates."""
    rows = values.sum(axis=1, dtype=np.float64)  # float sums and indices: integer matmul is slow
    cols = values.sum(axis=0, dtype=np.float64)
    total = rows.sum()
    return float(rows @ np.arange(rows.size, dtype=np.float64)) / total, float(
        cols @ np.arange(cols.size, dtype=np.float64)
    ) / total


# --- the MNIST-like pass-through ----------------------------------------------------------------


def _mnist_like(pictures: np.ndarray) -> np.ndarray:
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


# --- background, polarity and contrast -----------------------------------------------------------


@dataclass(frozen=True)
class _Paper:
    """A smooth model of the paper's brightness: quadratic in x and y, so it follows uneven lighting."""

    coef: np.ndarray  # coef[i, j] multiplies v**i * u**j, with u, v in [-1, 1] across the picture
    shape: tuple[int, int]  # full picture (height, width)
    local: np.ndarray | None = None  # what the quadratic misses (hard shadows), sampled every `factor` px
    factor: int = 1

    def surface(self, top: int, bottom: int, left: int, right: int, step: int = 1) -> np.ndarray:
        """Evaluate the surface at the centres of step×step blocks covering [top:bottom, left:right]."""
        v = self._axis(top, bottom, step, self.shape[0])
        u = self._axis(left, right, step, self.shape[1])
        smooth = np.vander(v, 3, increasing=True) @ self.coef @ np.vander(u, 3, increasing=True).T
        if self.local is not None:
            rows = np.minimum(((v + 1) * self.shape[0] / 2 // self.factor).astype(int), self.local.shape[0] - 1)
            cols = np.minimum(((u + 1) * self.shape[1] / 2 // self.factor).astype(int), self.local.shape[1] - 1)
            smooth = smooth + self.local[rows[:, None], cols[None, :]]
        return smooth.astype(np.float32)

    @staticmethod
    def _axis(start: int, stop: int, step: int, length: int) -> np.ndarray:
        """Normalised [-1, 1] coordinates of the block centres along one axis."""
        centres = start + (np.arange(-(-(stop - start) // step)) + 0.5) * step
        return 2 * centres / length - 1


_TERMS = [(i, j) for i in range(3) for j in range(3 - i)]  # powers of (v, u): 1, u, u², v, uv, v²


def _fit_paper(gray: np.ndarray) -> _Paper:
    """Fit the paper's brightness surface on a grid of sampled pixels, ignoring the ink as outliers.

    The fit starts once from the median of all samples and once from the median of the border
    samples, and keeps the surface more pixels agree with.  The global median is right when the paper
    fills most of the picture even if its border is a table; the border median is right for a tight
    crop whose strokes cover almost half of it.
    """
    h, w = gray.shape
    step = max(1, -(-max(h, w) // FIT_SAMPLES))
    rows = np.arange(min(step // 2, h - 1), h, step)
    cols = np.arange(min(step // 2, w - 1), w, step)
    values = gray[np.ix_(rows, cols)].astype(np.float64)
    v = 2 * (rows + 0.5) / h - 1
    u = 2 * (cols + 0.5) / w - 1
    design = np.stack([np.outer(v**i, u**j).ravel() for i, j in _TERMS], axis=1)
    border = np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])
    values = values.ravel()

    fits = [_robust_fit(design, values, float(np.median(values)))]
    if abs(np.median(border) - np.median(values)) > 3 * _robust_sigma(border - np.median(border)):
        fits.append(_robust_fit(design, values, float(np.median(border))))
    tolerance = 2.5 * min(noise for _, noise in fits)
    solution = max(fits, key=lambda fit: np.count_nonzero(np.abs(values - design @ fit[0]) <= tolerance))[0]
    coef = np.zeros((3, 3))
    for (i, j), c in zip(_TERMS, solution):
        coef[i, j] = c
    return _Paper(coef, (h, w))


def _robust_fit(design: np.ndarray, values: np.ndarray, start: float) -> tuple[np.ndarray, float]:
    """Least-squares surface through the values closest to the current guess, repeated.

    The first rounds use the closer half of the pixels (ink is less than half a picture even when a
    steep lighting gradient makes everything look like an outlier); the last ones use every pixel
    within 2.5 noise sigmas.  Returns the coefficients (in _TERMS order) and the noise around the surface.
    """
    solution = np.zeros(len(_TERMS))
    solution[0] = start  # a flat paper: also the answer when too few pixels agree on anything better
    residual = values - start
    for band in (0.0, 0.0, 0.0, 2.5, 2.5):
        distance = np.abs(residual)
        limit = band * _robust_sigma(residual) if band else np.median(distance)
        inliers = distance <= limit
        if np.count_nonzero(inliers) < 4 * len(_TERMS):
            break
        # Normal equations (6 unknowns: far cheaper than lstsq's SVD); the small ridge keeps them
        # solvable when the samples cannot tell some terms apart (a picture one row high, say).
        chosen = design[inliers]
        gram = chosen.T @ chosen + 1e-6 * len(chosen) * np.eye(len(_TERMS))
        solution = np.linalg.solve(gram, chosen.T @ values[inliers])
        residual = values - design @ solution
    return solution, _robust_sigma(residual)


def _robust_sigma(residual: np.ndarray) -> float:
    """Standard deviation of residuals around a surface, from their median absolute value (ink barely moves it)."""
    # Floor at one 8-bit step so that perfectly clean synthetic pictures do not divide by zero.
    return max(1.4826 * float(np.median(np.abs(residual))), 1 / 255)


def _pixel_noise(values: np.ndarray, gap: int = 1) -> float:
    """Standard deviation of pixel noise, from differences between pixels `gap` apart in a row.

    Unlike the spread around the paper surface, this is not inflated when ink, a table or a shadow
    covers a large part of the picture: only their edges differ from their neighbours.  (After
    averaging over g×g blocks, pixels g apart have independent noise, hence `gap`.)
    """
    rows = values[:: max(1, values.shape[0] // 32)]  # ~32 rows are plenty
    diffs = rows[:, gap:] - rows[:, :-gap]
    if diffs.size == 0:
        return 1 / 255
    # Floor at one 8-bit step so that perfectly clean synthetic pictures do not divide by zero.
    return max(1.4826 * float(np.median(np.abs(diffs))) / np.sqrt(2), 1 / 255)


def _ink_sign(residual: np.ndarray, noise: float) -> float:
    """Return -1 if the ink is darker than the paper, +1 if lighter: whichever tail beyond the noise is heavier.

    Background pixels sit on the fitted surface whatever their brightness, so coloured paper, a dark
    board or a dim photo do not fool this; only the ink (and the odd speck) stands out.
    """
    dark = np.clip(-residual - 3 * noise, 0, None).sum()
    light = np.clip(residual - 3 * noise, 0, None).sum()
    return -1.0 if dark > light else 1.0


def _ink_level(ink: np.ndarray, noise: float) -> float:
    """Return the typical contrast of the strokes, or raise NoDigitError if nothing stands out from the noise."""
    strong = ink[ink > 4 * noise]
    if strong.size < 4:
        raise NoDigitError(NO_DIGIT)
    # The strokes are the strongest thing in the picture, but a few specks may be stronger still and
    # faint haze (shading the surface cannot follow) may be far more plentiful: take the typical value
    # of what reaches at least half of a near-maximum that ignores the top 20 pixels.
    peak = np.partition(strong, -min(20, strong.size))[-min(20, strong.size)]
    level = float(np.percentile(strong[strong >= peak / 2], 75))
    if level < max(MIN_CONTRAST, NOISE_SIGMAS * noise):
        raise NoDigitError(NO_DIGIT)
    return level


# --- connected components ------------------------------------------------------------------------


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


def _label(mask: np.ndarray) -> _Labels:
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


def _paint(labels: _Labels, keep: np.ndarray) -> np.ndarray:
    """The mask of the kept components."""
    return np.concatenate(([False], keep))[labels.image]


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
    labels = _label(mask)
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
    thinness = _thinness(labels)
    crosses = ((top == 0) & (bottom == h)) | ((left == 0) & (right == w))
    line = touches & (across | (spans & (thinness <= 0.1)) | (crosses & (thinness <= 0.25)))
    # A ruled or margin line that fades out before the picture's edge (vignetting, uneven light) is
    # still far straighter and thinner for its length than a digit's stroke, even a 1's.
    line |= (long_side >= 0.3 * max(h, w)) & (thinness <= THIN_LINE)
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


def _thinness(labels: _Labels) -> np.ndarray:
    """Each component's width across its main axis over its length along it (from second moments).

    About thickness / length for a straight band whatever its slant; far more for a digit, whose
    strokes turn (a 1 is a line, but one that rarely spans the picture).
    """
    rows, cols = np.nonzero(labels.image)
    which = labels.image[rows, cols]
    x, y = cols.astype(np.float64), rows.astype(np.float64)
    sums = [np.bincount(which, weights=v, minlength=labels.count + 1)[1:] for v in (x, x * x, y, y * y, x * y)]
    area = labels.area
    mx, my = sums[0] / area, sums[2] / area
    vxx, vyy, vxy = sums[1] / area - mx**2, sums[3] / area - my**2, sums[4] / area - mx * my
    # Eigenvalues of the covariance: the spreads along the main axis and across it.
    mean, diff = (vxx + vyy) / 2, np.sqrt(((vxx - vyy) / 2) ** 2 + vxy**2)
    return np.sqrt(np.clip(mean - diff, 0, None) / np.maximum(mean + diff, 1e-12))


def _digit_mask(mask: np.ndarray) -> np.ndarray:
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
    return _paint(c.labels, keep)


def _components_without_lines(mask: np.ndarray) -> Components:
    """components() of the mask with ruled and margin lines taken out.

    Taking a line out can cut clutter into pieces: a sheet's outline or a desk's edge loses a
    side, and what is left of it would look like a 1.  So the pieces of anything ruled out as
    clutter, other than a line (which may have a digit written across it), stay ruled out.
    """
    cleaned = without_lines(mask)
    if np.array_equal(cleaned, mask):
        return components(mask)
    whole = components(mask)
    return components(cleaned, ruled_out=_paint(whole.labels, whole.clutter & ~whole.line))


def without_lines(mask: np.ndarray) -> np.ndarray:
    """The mask without ruled lines and margin lines, keeping the strokes of digits written across them.

    A digit written across a line is one component with it, which would rule it out as clutter.
    """
    # Margin lines first, then ruled lines. Both cross the whole picture, where a digit's bar or a
    # tall 1 in a tight crop stops short of it.
    mask = mask & ~_line_pixels(mask.T, MARGIN_LENGTH).T
    return mask & ~_line_pixels(mask, RULED_LENGTH)


def _line_pixels(mask: np.ndarray, length: float) -> np.ndarray:
    """The pixels of thin horizontal lines across the mask, except where a stroke crosses them.

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
        return np.zeros_like(mask)
    long &= (np.count_nonzero(_grow_rows(mask, LINE_REACH), axis=1) >= LINE_COVER * w)[row]
    line = np.zeros((h, w + 1), np.int8)
    np.add.at(line, (row[long], start[long]), 1)
    np.add.at(line, (row[long], stop[long]), -1)
    # The rows beside the longest run are the line's too where they have ink: a line 2 px wide,
    # or slightly slanted, is not one long run in each of its rows, and its leftovers would look
    # like a thin stroke.
    line = _grow_rows(np.cumsum(line, axis=1)[:, :-1] > 0, LINE_REACH) & mask
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


def _grow_rows(mask: np.ndarray, reach: int) -> np.ndarray:
    """The mask grown up and down by `reach` rows."""
    return cv2.dilate(np.ascontiguousarray(mask).view(np.uint8), _square(1, 2 * reach + 1)).view(bool)


# --- the auto pipeline ---------------------------------------------------------------------------


def _normalise(gray: np.ndarray) -> np.ndarray:
    """Find the digit in a photo or scan and prepare it like MNIST (see the module docstring)."""
    return locate_ink(gray, digit_input)


_Result = TypeVar("_Result")


def locate_ink(
    gray: np.ndarray,
    finish: Callable[[Found], _Result],
    *,
    select: Callable[[np.ndarray], np.ndarray] | None = None,
    inside_sheet: bool = False,
    offset: tuple[int, int] = (0, 0),
    work_size: int = WORK_SIZE,
) -> _Result:
    """Find the ink in a photo or scan (steps 1-5 of the module docstring) and return finish(found).

    `select` picks the wanted components from the thresholded ink mask (default: the one digit;
    digitcli.vision.segment picks a row of digits).  `finish` runs inside the search so that, when it
    finds nothing in a sheet cut out of a desk photo, the whole photo is used after all.
    `work_size` bounds the small copy the ink is searched on (a long number of small digits needs more).
    """
    select = select or _digit_mask
    factor = max(1, -(-max(gray.shape) // work_size))
    small = _shrink(gray, factor)

    def inside(patch: np.ndarray | None, filled: bool = False) -> tuple[bool, _Result | None]:
        """A solid light patch with something inside: most likely a sheet of paper on a darker desk
        that fills less than half the photo, so the desk was taken for the paper.  Look inside it.
        `filled`: the patch is a sheet already (see _sheet_on_desk), holes filled, and what is
        found must stay clear of its edge (else the "edge" cuts the digit: a shadow's, not a desk's)."""
        if patch is None or inside_sheet:
            return False, None
        sheet = _cut_sheet(gray, small, patch, factor) if filled else _sheet_picture(gray, small, patch, factor)
        if sheet is None:
            return False, None

        def finish_inside(found: Found) -> _Result:
            if filled and _reaches_edge(found, patch, factor, offset):
                raise NoDigitError(NO_DIGIT)
            return finish(found)

        picture, (y0, x0) = sheet
        try:
            inner = (offset[0] + y0, offset[1] + x0)
            return True, locate_ink(picture, finish_inside, select=select, inside_sheet=True, offset=inner, work_size=work_size)
        except NoDigitError:
            return False, None

    # A sheet of paper on a darker desk: its edges and corners look like strokes to every look
    # below, so the digit is looked for inside it first.
    done, result = inside(_sheet_on_desk(small), filled=True)
    if done:
        return result
    paper = _fit_paper(gray)
    found = _find_ink(small, paper, factor, select)
    residual = _residual(small, paper, factor)

    # What stands out may be a broad area, not strokes: a hard shadow or a lit patch the quadratic
    # could not follow, or the edge of a sheet on a desk.  Follow the lighting locally (a wide
    # median) and look again; if that still finds a solid patch, or light "ink" on paper that is
    # light somewhere (a lit patch beside a shadow), look for thin dark strokes only.
    if found is None or _looks_like_area(found.keep):
        found = _second_look(small, paper, factor, found, _local_correction(residual), select)
    looked_inside = None
    if found is not None and found.sign > 0:
        # A sheet is looked inside before the thin-stroke looks: those would find the sheet's
        # edges (thin dark steps) as readily as the faint digit on it.
        looked_inside = found
        done, result = inside(_sheet_around(found, small, factor))
        if done:
            return result
    if found is None or _not_dark_strokes(found):
        found = _second_look(small, paper, factor, found, _stroke_background(residual), select)
    elif not (found.sign > 0 and _is_sheet(found.keep)) and _stroke_share(found, residual) < 0.5:
        # Mostly not strokes: a step (a shadow's or a sheet's edge, perhaps joined to the digit), or
        # the strokes of a bold digit cropped tightly.  Look for thin dark strokes; keep them even
        # inside the first find unless, measured with a window twice as wide, that was strokes.
        anywhere = _stroke_share(found, residual, STROKE_WINDOW // 2) < 0.5
        found = _second_look(small, paper, factor, found, _stroke_background(residual), select, anywhere=anywhere)
    if found is None:
        raise NoDigitError(NO_DIGIT)
    if _touches_edge(found.keep):
        found = _dark_inside(small, paper, factor, found, _local_correction(residual), select)
    if found.sign > 0 and found is not looked_inside:  # the same find would fail the same way
        done, result = inside(found.keep)
        if done:
            return result
    return finish(Found(gray, found, factor, offset))


def digit_input(found: Found, keep: np.ndarray | None = None) -> np.ndarray:
    """Cut the found ink (or only `keep`, a mask on the small copy) out and make it MNIST's 28×28 uint8 (steps 6-7)."""
    ink = found.ink if keep is None else _Ink(keep, found.ink.paper, found.ink.sign, found.ink.level)
    return _place(_fit_box(_match_strokes(_cut_out(found.gray, ink, found.factor))))


@dataclass(frozen=True)
class _Ink:
    """Where the digit is on the small copy, and how to turn picture values into ink strength."""

    keep: np.ndarray  # mask of the digit's components on the small copy
    paper: _Paper
    sign: float  # -1 for dark ink, +1 for light ink
    level: float  # typical stroke contrast


@dataclass(frozen=True)
class Found:
    """Where the ink is: the picture searched, the ink on its small copy, and how the two map."""

    gray: np.ndarray  # the picture searched: the whole one, or the sheet cut out of a desk photo
    ink: _Ink
    factor: int  # the small copy's pixel is factor×factor of gray's
    offset: tuple[int, int]  # (row, column) of gray's top-left corner in the opened picture


def _find_ink(
    small: np.ndarray, paper: _Paper, factor: int, select: Callable[[np.ndarray], np.ndarray]
) -> _Ink | None:
    """Decide polarity and contrast against the paper model and pick the digit's components, or None.

    If nothing stands out from the pixel noise, look again at 3×3 averages: strokes are coherent
    and keep their contrast while the noise drops threefold (faint pencil in a grainy photo).
    """
    residual = _residual(small, paper, factor)
    for smoothing in (1, 3):
        if smoothing > 1:
            residual = cv2.blur(residual, (smoothing, smoothing), borderType=cv2.BORDER_REPLICATE)
        noise = _pixel_noise(residual, gap=smoothing)
        sign = _ink_sign(residual, noise)
        ink = sign * residual
        try:
            level = _ink_level(ink, noise)
        except NoDigitError:
            continue
        mask = ink > max(level / 2, 3 * noise)
        try:
            keep = select(mask)
        except NoDigitError:
            keep = None
        if keep is None or _is_crumb(keep):
            # Dark specks may set a level faint pencil never reaches: measure it without them.
            keep, level = _fainter_ink(ink, noise, keep, level, select, hidden=_crumbs(mask))
        elif _edge_band(keep):
            keep, level = _fainter_ink(ink, noise, keep, level, select)
        if keep is not None:
            return _Ink(keep, paper, sign, level)
    return None


def _edge_band(keep: np.ndarray) -> bool:
    """True if what was kept runs off the picture and is a straight band (a desk's or shadow's edge, or a 1)."""
    if not _touches_edge(keep):
        return False
    labels = _label(keep)
    return labels.count == 1 and bool(_thinness(labels)[0] <= 0.15)


def _fainter_ink(
    ink: np.ndarray,
    noise: float,
    keep: np.ndarray | None,
    level: float,
    select: Callable[[np.ndarray], np.ndarray],
    hidden: np.ndarray | None = None,
) -> tuple[np.ndarray | None, float]:
    """Look for ink fainter than `level`, which something stronger may have set beyond faint pencil's
    reach: the band kept (a desk's or shadow's edge), left out of the level and the search, or
    dark specks (`hidden`), left out of the level only.  A sizeable find that stays inside wins.
    """
    rest = np.where(_dilate(keep if hidden is None else hidden, 5), 0, ink)
    try:
        faint = _ink_level(rest, noise)
        found = select((rest if hidden is None else ink) > max(faint / 2, 3 * noise))
    except NoDigitError:
        return keep, level
    box = _bbox(found)
    big = max(box[1] - box[0], box[3] - box[2]) >= 0.1 * max(ink.shape)
    return (found, faint) if faint < 0.6 * level and big and not _touches_edge(found) else (keep, level)


def _is_crumb(keep: np.ndarray) -> bool:
    """True if what was kept is tiny beside the picture: a speck, or a fragment of faint strokes."""
    top, bottom, left, right = _bbox(keep)
    return max(bottom - top, right - left) < CRUMB * max(keep.shape)


def _crumbs(mask: np.ndarray) -> np.ndarray:
    """The mask's components that are tiny beside the picture (see _is_crumb)."""
    c = _label(mask)
    return _paint(c, np.maximum(c.bottom - c.top, c.right - c.left) < CRUMB * max(mask.shape))


def _second_look(
    small: np.ndarray,
    paper: _Paper,
    factor: int,
    found: _Ink | None,
    local: np.ndarray,
    select: Callable[[np.ndarray], np.ndarray],
    anywhere: bool = False,
) -> _Ink | None:
    """Look for the ink again with a local correction of the paper; keep the new find if it is somewhere else
    (or `anywhere`)."""
    retry = _find_ink(small, _Paper(paper.coef, paper.shape, local, factor), factor, select)
    if retry is not None and (found is None or anywhere or _is_elsewhere(retry.keep, found.keep)):
        return retry
    return found


def _dark_inside(
    small: np.ndarray,
    paper: _Paper,
    factor: int,
    found: _Ink,
    local: np.ndarray,
    select: Callable[[np.ndarray], np.ndarray],
) -> _Ink:
    """Ink that runs off the picture may be a step, not strokes: light "ink" the lit side of a shadow's
    edge or a lit strip between shadows (chalk is written inside the board), dark "ink" a desk's
    or a sheet's edge.  With the lighting followed locally, dark strokes that stay inside the
    picture win; for dark ink only if they lie elsewhere (not a piece of a digit cut by the frame)."""
    retry = _find_ink(small, _Paper(paper.coef, paper.shape, local, factor), factor, select)
    if (retry is not None and retry.sign < 0 and not _touches_edge(retry.keep)
            and (found.sign > 0 or _is_elsewhere(retry.keep, found.keep))):
        return retry
    return found


def _touches_edge(mask: np.ndarray) -> bool:
    """True if the mask has a pixel on the picture's border."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _residual(small: np.ndarray, paper: _Paper, factor: int) -> np.ndarray:
    """The small copy minus the paper surface: ink and anything else the paper model does not explain."""
    h, w = paper.shape
    return small - paper.surface(0, h, 0, w, factor)[: small.shape[0], : small.shape[1]]


def _looks_like_area(keep: np.ndarray) -> bool:
    """True if the kept ink is a broad patch (shadow, lit area, sheet of paper) rather than pen strokes."""
    # Strokes are at most ~1/5 of a digit's size wide (bold fonts) and, unless the picture is a tight
    # crop, a few percent of the picture.  A tight crop may trigger a second look; _is_elsewhere then
    # keeps the first answer.
    return _is_solid(keep) or _stroke_width(keep) > 0.05 * max(keep.shape)


def _is_solid(keep: np.ndarray) -> bool:
    """True if the kept ink is too broad for the strokes of a digit its size, even a bold one."""
    top, bottom, left, right = _bbox(keep)
    return _stroke_width(keep[top:bottom, left:right]) > 0.25 * max(bottom - top, right - left)


def _is_elsewhere(second: np.ndarray, first: np.ndarray) -> bool:
    """True if most of the second look's ink lies outside the first look's (a new find, not a hollowed copy)."""
    return np.count_nonzero(second & _dilate(first, 3)) < 0.5 * np.count_nonzero(second)


def _sheet_picture(
    gray: np.ndarray, small: np.ndarray, patch: np.ndarray, factor: int
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Cut out the patch (holes included) with everything around it set to the patch's own brightness.

    Returns the cut-out and the (row, column) of its top-left corner in `gray`, or None unless the
    patch looks like a sheet (see _is_sheet).
    """
    if not _is_sheet(patch):
        return None
    return _cut_sheet(gray, small, _fill_holes(patch), factor)


def _cut_sheet(
    gray: np.ndarray, small: np.ndarray, filled: np.ndarray, factor: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """The sheet `filled` (a mask on the small copy) cut out of gray, the rest set to its brightness.

    Returns the cut-out and the (row, column) of its top-left corner in `gray`.
    """
    top, bottom, left, right = _bbox(filled)
    filled = filled[top:bottom, left:right]
    # Shrink the sheet a little: its edges (shadow, blur) must not look like ink.
    inside = ~_dilate(~filled, 5)
    paper = float(np.median(small[top:bottom, left:right][filled]))
    y0, y1 = top * factor, min(bottom * factor, gray.shape[0])
    x0, x1 = left * factor, min(right * factor, gray.shape[1])
    rows = np.arange(y1 - y0) // factor
    cols = np.arange(x1 - x0) // factor
    return np.where(inside[rows[:, None], cols[None, :]], gray[y0:y1, x0:x1], np.float32(paper)), (y0, x0)


def _sheet_on_desk(small: np.ndarray) -> np.ndarray | None:
    """The mask (holes filled) of a light sheet of paper lying on a darker desk, or None.

    On a copy about 128 px across, the pixels brighter than Otsu's threshold form one big solid
    component (holes, the strokes on it, under 15 %) with straight, sharp edges, light itself and
    clearly brighter than the rest.  A white page half in a hard shadow may pass too: its lit part
    is then searched first, which is harmless when the digit is there, and falls back to the whole
    picture when nothing is found in it or what is found reaches its edge.
    """
    k = max(1, max(small.shape) // 128)
    coarse = _shrink(small, k)
    light = coarse > _otsu(coarse)
    labels = _label(light)
    if labels.count == 0:
        return None
    area = labels.area
    sheet = _fill_holes(_paint(labels, np.arange(labels.count) == np.argmax(area)))
    top, bottom, left, right = _bbox(sheet)
    if (not SHEET_AREA[0] <= np.count_nonzero(sheet) / sheet.size <= SHEET_AREA[1]
            or area.max() < 0.85 * np.count_nonzero(sheet)  # mostly holes: the loop of a light 0
            # Straight edges: a rectangle's 2·area/perimeter is half its shorter side or more;
            # a bold light digit's is far less.
            or _stroke_width(sheet) < 0.4 * min(bottom - top, right - left)):
        return None
    paper, desk = float(np.median(coarse[sheet])), float(np.median(coarse[~sheet]))
    if paper < 0.5 or paper - desk < SHEET_CONTRAST:
        return None
    # A sheet's edge is sharp: most of the step happens within 2 px (a lighting gradient's does not).
    step = np.median(coarse[sheet & _dilate(~sheet, 5)]) - np.median(coarse[~sheet & _dilate(sheet, 5)])
    if step < 0.5 * (paper - desk):
        return None
    rows = np.minimum(np.arange(small.shape[0]) // k, sheet.shape[0] - 1)
    cols = np.minimum(np.arange(small.shape[1]) // k, sheet.shape[1] - 1)
    return sheet[rows[:, None], cols[None, :]]


def _reaches_edge(found: Found, sheet: np.ndarray, factor: int, offset: tuple[int, int]) -> bool:
    """True if the ink found in a sheet cut out by _cut_sheet comes within 2 px of the cut-out's edge.

    `sheet` is the mask on the small copy (its `factor`) of the picture at `offset`."""
    rows, cols = np.nonzero(found.ink.keep)
    y = (rows * found.factor + found.offset[0] - offset[0]) // factor
    x = (cols * found.factor + found.offset[1] - offset[1]) // factor
    rim = _dilate(~sheet, 9)  # the cut-out's edge is 2 px in from the sheet's (_dilate size 5)
    return bool(rim[y.clip(0, sheet.shape[0] - 1), x.clip(0, sheet.shape[1] - 1)].any())


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold for values in [0, 1]: the one that best separates a dark and a light class.

    OpenCV's, on the values in `bins` levels: 64 smooth the histogram of a small coarse copy (with
    all 256, one paper-on-desk picture in 2,000 lost its sheet).
    """
    levels = np.clip(values * bins, 0, bins - 1).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return (level + 1) / bins  # the levels above `level` are light


def _is_sheet(patch: np.ndarray) -> bool:
    """True if the patch, its holes filled, is solid (a sheet, not strokes) and its holes are small
    and look like strokes drawn on it, not like the paper inside a digit's loops."""
    top, bottom, left, right = _bbox(patch)
    box = patch[top:bottom, left:right]
    filled = _fill_holes(box)
    holes = filled & ~box
    hole_area = np.count_nonzero(holes)
    solid = _stroke_width(box) >= 0.2 * min(box.shape) and _stroke_width(filled) >= 0.3 * min(box.shape)
    if not solid or not 0 < hole_area <= 0.15 * np.count_nonzero(filled):
        return False
    hole_box = _bbox(holes)
    return _stroke_width(holes) <= 0.25 * max(hole_box[1] - hole_box[0], hole_box[3] - hole_box[2])


def _sheet_around(found: _Ink, small: np.ndarray, factor: int) -> np.ndarray:
    """The light patch whose hole holds the light ink found, with it, or else what was found.

    On a sheet lying on a darker desk, with the desk taken for the paper, the paper inside a loop
    of a bold dark digit is a light patch of its own in a hole of the sheet: the sheet is the patch
    to look inside."""
    residual = _residual(small, found.paper, factor)
    labels = _label(found.sign * residual > found.level / 2)
    if labels.count == 0:  # found on 3×3 averages (faint ink in a grainy photo): no sheet in sight
        return found.keep
    biggest = _paint(labels, np.arange(labels.count) == np.argmax(labels.area))
    if (found.keep & biggest).any() or (found.keep & ~_fill_holes(biggest)).any():
        return found.keep
    return biggest | found.keep


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return the mask with every enclosed gap filled (gaps not connected to the mask's outer edge)."""
    # Flood the gaps from a frame of gap around the mask (8-connected, as components are): what
    # the flood does not reach is enclosed.
    h, w = mask.shape
    gaps = np.ones((h + 2, w + 2), np.uint8)
    gaps[1:-1, 1:-1] = ~mask
    cv2.floodFill(gaps, None, (0, 0), 0, flags=8)
    return mask | gaps[1:-1, 1:-1].view(bool)


def _not_dark_strokes(found: _Ink) -> bool:
    """True if what was found is a solid patch, or light "ink" on a ground that is light somewhere.

    Light ink belongs on a dark ground (chalk on a board, white on black).  On light paper, a
    "light" find is the lit side of a shadow's edge or a lit patch: thin dark strokes are looked for.
    """
    if _is_solid(found.keep):
        return True
    h, w = found.paper.shape
    # The brightest the fitted paper gets: a shadow over the centre must not make the page "dark".
    ground = float(found.paper.surface(0, h, 0, w, max(1, max(h, w) // 16)).max())
    return found.sign > 0 and ground >= 0.5


def _stroke_share(found: _Ink, residual: np.ndarray, window: int = STROKE_WINDOW) -> float:
    """The share of the ink found that is thin strokes of its polarity, narrower than 1/window of the picture.

    A closing (an opening for light ink) that wide fills strokes in but keeps steps, such as a
    shadow's or a sheet's edge, where they are: what it takes away is the strokes' part of the ink.
    """
    # On block averages about 128 px across (cheap), compared over the blocks the ink touches:
    # averaging moves a thin stroke's weight to its neighbours, but keeps it in its block.
    k = max(1, max(residual.shape) // 128)
    ink = _shrink(found.sign * residual, k)
    blocks = _pool(found.keep, k, cv2.dilate)
    size = max(3, (max(ink.shape) // window) | 1)
    thin = ink - cv2.morphologyEx(ink, cv2.MORPH_OPEN, _square(size))
    return float(thin[blocks].sum()) / max(float(ink[blocks].sum()), 1e-6)


def _stroke_window(residual: np.ndarray) -> int:
    """Width of the stroke-removing filters: odd, and wider than any stroke."""
    return max(3, (max(residual.shape) // STROKE_WINDOW) | 1)


def _stroke_background(residual: np.ndarray) -> np.ndarray:
    """Everything in the residual but thin dark strokes: a grey closing wider than any stroke.

    The closing fills dark strokes in but keeps steps, such as a hard shadow's edge or the edge of
    a sheet on a desk, exactly where they are, so the residual minus the closing holds only the
    strokes.  Only dark ink is looked for: light ink (chalk) is on an evenly dark board, where the
    first look does not find an area, and an opening would take the paper between thick dark
    strokes for light ink.
    """
    return cv2.morphologyEx(residual, cv2.MORPH_CLOSE, _square(_stroke_window(residual)))


def _local_correction(residual: np.ndarray) -> np.ndarray:
    """Large-scale structure the quadratic surface missed (hard shadows): a wide median of the residual."""
    h, w = residual.shape
    k = max(1, -(-max(h, w) // 48))
    tiny = np.ascontiguousarray(_shrink(residual, k), dtype=np.float32)
    size = max(3, (max(tiny.shape) // LOCAL_FRACTION) | 1)
    median = Image.fromarray(tiny).filter(ImageFilter.MedianFilter(size))
    return np.asarray(median.resize((w, h), Image.Resampling.BILINEAR))



def _cut_out(gray: np.ndarray, found: _Ink, factor: int) -> np.ndarray:
    """Cut the kept ink out of the full-resolution picture as [0, 1] strength, pooled to DETAIL_SIZE-ish."""
    keep, paper, sign, level = found.keep, found.paper, found.sign, found.level
    # Grow the kept mask a little so the soft, anti-aliased edges of the strokes come along.
    top, bottom, left, right = _bbox(keep)
    grow = 2
    t, b = max(top - grow, 0), min(bottom + grow, keep.shape[0])
    l, r = max(left - grow, 0), min(right + grow, keep.shape[1])
    region = _dilate(keep[t:b, l:r].astype(np.uint8), 2 * grow + 1)

    # Pool first (block maxima of the ink side), so the rest works on ~80-159 px: a thin
    # pen line stays at full strength, where averaging would fade it below the threshold.
    pool = max(1, max(bottom - top, right - left) * factor // DETAIL_SIZE)
    y0, y1 = t * factor, min(b * factor, gray.shape[0])
    x0, x1 = l * factor, min(r * factor, gray.shape[1])
    crop = gray[y0:y1, x0:x1]
    darkest_or_lightest = cv2.erode if sign < 0 else cv2.dilate
    ink = sign * (_pool(crop, pool, darkest_or_lightest) - paper.surface(y0, y1, x0, x1, pool))
    # Below `low` is paper grain: 3 noise sigmas, but never more than half the ink level.
    low = min(max(3 * _pixel_noise(crop), 0.15 * level), 0.5 * level)
    strength = np.clip((ink - low) / (level - low), 0, 1)
    # Keep only the chosen components' neighbourhood: map each pooled pixel's centre to the small mask.
    rows = np.minimum((y0 + (np.arange(ink.shape[0]) + 0.5) * pool) // factor - t, region.shape[0] - 1)
    cols = np.minimum((x0 + (np.arange(ink.shape[1]) + 0.5) * pool) // factor - l, region.shape[1] - 1)
    return strength * region[rows.astype(int)[:, None], cols.astype(int)[None, :]]


def _stroke_width(mask: np.ndarray) -> float:
    """Estimate stroke width as 2·area / perimeter: a stroke of width w and length L has area wL, perimeter ≈ 2L."""
    padded = np.pad(mask, 1).astype(np.int8)
    perimeter = np.count_nonzero(np.diff(padded, axis=0)) + np.count_nonzero(np.diff(padded, axis=1))
    return 2 * np.count_nonzero(mask) / max(perimeter, 1)


def _match_strokes(detail: np.ndarray) -> np.ndarray:
    """Bring strokes to MNIST's width after scaling: thicken a fine pen in a big photo, thin a bold marker."""
    core = detail >= 0.5
    box = _bbox(core)
    if box is None:
        raise NoDigitError(NO_DIGIT)
    long_side = max(box[1] - box[0], box[3] - box[2])
    width = _stroke_width(core[box[0] : box[1], box[2] : box[3]])
    if width * BOX / long_side < STROKE_MIN:
        extra = STROKE_TARGET * long_side / BOX - width  # px of width to add
        return _dilate(detail, 2 * int(round(extra / 2)) + 1)
    if width * BOX / long_side > STROKE_MAX:
        excess = width - STROKE_MAX * long_side / BOX  # px of width to take away
        return _erode(detail, 2 * int(round(excess / 2)) + 1)
    return detail


def _fit_box(detail: np.ndarray) -> np.ndarray:
    """Scale the digit so the longer side of its stroke cores is BOX px, keeping the aspect ratio."""
    core = _bbox(detail >= 0.5)
    ink = _bbox(detail > 0)
    if core is None or ink is None:
        raise NoDigitError(NO_DIGIT)
    scale = BOX / max(core[1] - core[0], core[3] - core[2])
    digit = detail[ink[0] : ink[1], ink[2] : ink[3]]
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    digit = _resize(digit, size)
    peak = float(digit.max())
    if peak <= 0:
        raise NoDigitError(NO_DIGIT)
    return digit / peak  # MNIST stroke cores saturate; a thin, averaged stroke must still reach 255


def _place(digit: np.ndarray) -> np.ndarray:
    """Put the digit in a 28×28 frame with its centre of mass on the centre pixel (14, 14), as MNIST does."""
    row, col = _centre_of_mass(digit)
    top = int(np.floor(SIZE / 2 - row + 0.5))
    left = int(np.floor(SIZE / 2 - col + 0.5))
    frame = np.zeros((SIZE, SIZE), np.float32)
    h, w = digit.shape
    fy0, fx0 = max(top, 0), max(left, 0)
    fy1, fx1 = min(top + h, SIZE), min(left + w, SIZE)
    frame[fy0:fy1, fx0:fx1] = digit[fy0 - top : fy1 - top, fx0 - left : fx1 - left]
    return _to_uint8(frame)
