"""The paper under the ink: a smooth surface fitted to the picture, its noise, the ink's polarity and contrast."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageFilter

from digitcli.errors import NO_DIGIT, NoDigitError
from digitcli.vision.ops import median, shrink, square


FIT_SAMPLES = 64  # the background surface is fitted on about 64×64 sampled pixels
MIN_CONTRAST = 0.08  # ink must differ from the paper by 8 % of the full range ...
NOISE_SIGMAS = 6.0  # ... and by this many noise standard deviations
LOCAL_FRACTION = 4  # the local lighting correction is a median over 1/4 of the picture
STROKE_WINDOW = 6  # the stroke-removing closing spans 1/6 of the picture: wider than any stroke


@dataclass(frozen=True)
class Paper:
    """A smooth model of the paper's brightness: quadratic in x and y, so it follows uneven lighting."""

    coef: np.ndarray  # coef[i, j] multiplies v**i * u**j, with u, v in [-1, 1] across the picture
    shape: tuple[int, int]  # full picture (height, width)
    local: np.ndarray | None = None  # what the quadratic misses (hard shadows), sampled every `factor` px
    factor: int = 1
    # The search asks for the same whole-picture surface several times (each look, each residual).
    _made: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def surface(self, top: int, bottom: int, left: int, right: int, step: int = 1) -> np.ndarray:
        """Evaluate the surface at the centres of step×step blocks covering [top:bottom, left:right] (read-only)."""
        key = (top, bottom, left, right, step)
        if key not in self._made:
            self._made[key] = self._evaluate(top, bottom, left, right, step)
            self._made[key].flags.writeable = False
        return self._made[key]

    def _evaluate(self, top: int, bottom: int, left: int, right: int, step: int) -> np.ndarray:
        v = self._axis(top, bottom, step, self.shape[0])
        u = self._axis(left, right, step, self.shape[1])
        smooth = np.vander(v, 3, increasing=True) @ self.coef @ np.vander(u, 3, increasing=True).T
        if self.local is not None:
            rows = np.minimum(((v + 1) * self.shape[0] / 2 // self.factor).astype(int), self.local.shape[0] - 1)
            cols = np.minimum(((u + 1) * self.shape[1] / 2 // self.factor).astype(int), self.local.shape[1] - 1)
            smooth = smooth + self.local.take(rows, axis=0).take(cols, axis=1)  # the same as [rows[:, None], cols], faster
        return smooth.astype(np.float32)

    @staticmethod
    def _axis(start: int, stop: int, step: int, length: int) -> np.ndarray:
        """Normalised [-1, 1] coordinates of the block centres along one axis."""
        centres = start + (np.arange(-(-(stop - start) // step)) + 0.5) * step
        return 2 * centres / length - 1


_TERMS = [(i, j) for i in range(3) for j in range(3 - i)]  # powers of (v, u): 1, u, u², v, uv, v²


def fit_paper(gray: np.ndarray) -> Paper:
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

    fits = [_robust_fit(design, values, float(median(values)))]
    if abs(median(border) - median(values)) > 3 * _robust_sigma(border - median(border)):
        fits.append(_robust_fit(design, values, float(median(border))))
    tolerance = 2.5 * min(noise for _, noise in fits)
    solution = max(fits, key=lambda fit: np.count_nonzero(np.abs(values - design @ fit[0]) <= tolerance))[0]
    coef = np.zeros((3, 3))
    for (i, j), c in zip(_TERMS, solution):
        coef[i, j] = c
    return Paper(coef, (h, w))


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
        limit = band * _robust_sigma(residual) if band else median(distance)
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
    return max(1.4826 * float(median(np.abs(residual))), 1 / 255)


def pixel_noise(values: np.ndarray, gap: int = 1) -> float:
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
    return max(1.4826 * float(median(np.abs(diffs))) / np.sqrt(2), 1 / 255)


def ink_sign(residual: np.ndarray, noise: float) -> float:
    """Return -1 if the ink is darker than the paper, +1 if lighter: whichever tail beyond the noise is heavier.

    Background pixels sit on the fitted surface whatever their brightness, so coloured paper, a dark
    board or a dim photo do not fool this; only the ink (and the odd speck) stands out.
    """
    # The same values as np.clip(∓residual - 3·noise, 0, None), made in place in one buffer.
    tail = np.negative(residual)
    tail -= 3 * noise
    dark = np.maximum(tail, 0, out=tail).sum()
    np.subtract(residual, 3 * noise, out=tail)
    light = np.maximum(tail, 0, out=tail).sum()
    return -1.0 if dark > light else 1.0


def ink_level(ink: np.ndarray, noise: float) -> float:
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


def against_paper(small: np.ndarray, paper: Paper, factor: int) -> np.ndarray:
    """The small copy minus the paper surface: ink and anything else the paper model does not explain."""
    h, w = paper.shape
    return small - paper.surface(0, h, 0, w, factor)[: small.shape[0], : small.shape[1]]


def _stroke_window(residual: np.ndarray) -> int:
    """Width of the stroke-removing filters: odd, and wider than any stroke."""
    return max(3, (max(residual.shape) // STROKE_WINDOW) | 1)


def stroke_background(residual: np.ndarray) -> np.ndarray:
    """Everything in the residual but thin dark strokes: a grey closing wider than any stroke.

    The closing fills dark strokes in but keeps steps, such as a hard shadow's edge or the edge of
    a sheet on a desk, exactly where they are, so the residual minus the closing holds only the
    strokes.  Only dark ink is looked for: light ink (chalk) is on an evenly dark board, where the
    first look does not find an area, and an opening would take the paper between thick dark
    strokes for light ink.
    """
    return cv2.morphologyEx(residual, cv2.MORPH_CLOSE, square(_stroke_window(residual)))


def local_correction(residual: np.ndarray) -> np.ndarray:
    """Large-scale structure the quadratic surface missed (hard shadows): a wide median of the residual."""
    h, w = residual.shape
    k = max(1, -(-max(h, w) // 48))
    tiny = np.ascontiguousarray(shrink(residual, k), dtype=np.float32)
    size = max(3, (max(tiny.shape) // LOCAL_FRACTION) | 1)
    median = Image.fromarray(tiny).filter(ImageFilter.MedianFilter(size))
    return np.asarray(median.resize((w, h), Image.Resampling.BILINEAR))
