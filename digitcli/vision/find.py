"""Where the ink is: the search for the digit's strokes in a photo or scan (steps 0-5 of vision.preprocess)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from digitcli.errors import NO_DIGIT, NoDigitError
from digitcli.vision.ops import bbox, dilate, fill_holes, pool_blocks, shrink, square, stroke_width, touches_edge
from digitcli.vision.paper import Paper, STROKE_WINDOW, against_paper, fit_paper, ink_level, ink_sign, local_correction, pixel_noise, stroke_background
from digitcli.vision.components import digit_mask, labelled, line_thinness, paint
from digitcli.vision.sheet import cut_sheet, is_sheet, sheet_on_desk, sheet_picture


WORK_SIZE = 512  # the digit is searched for on a copy at most this many px across
CRUMB = 0.06  # a find whose longer side is under this share of the picture's may be a speck


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
    """Find the ink in a photo or scan (steps 0-5 of vision.preprocess) and return finish(found).

    `select` picks the wanted components from the thresholded ink mask (default: the one digit;
    digitcli.vision.segment picks a row of digits).  `finish` runs inside the search so that, when it
    finds nothing in a sheet cut out of a desk photo, the whole photo is used after all.
    `work_size` bounds the small copy the ink is searched on (a long number of small digits needs more).
    """
    select = select or digit_mask
    factor = max(1, -(-max(gray.shape) // work_size))
    small = shrink(gray, factor)

    def inside(patch: np.ndarray | None, filled: bool = False) -> tuple[bool, _Result | None]:
        """A solid light patch with something inside: most likely a sheet of paper on a darker desk
        that fills less than half the photo, so the desk was taken for the paper.  Look inside it.
        `filled`: the patch is a sheet already (see sheet_on_desk), holes filled, and what is
        found must stay clear of its edge (else the "edge" cuts the digit: a shadow's, not a desk's)."""
        if patch is None or inside_sheet:
            return False, None
        sheet = cut_sheet(gray, small, patch, factor) if filled else sheet_picture(gray, small, patch, factor)
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
    done, result = inside(sheet_on_desk(small), filled=True)
    if done:
        return result
    paper = fit_paper(gray)
    residual = against_paper(small, paper, factor)
    found = _find_ink(small, paper, factor, select, residual)

    # What stands out may be a broad area, not strokes: a hard shadow or a lit patch the quadratic
    # could not follow, or the edge of a sheet on a desk.  Follow the lighting locally (a wide
    # median) and look again; if that still finds a solid patch, or light "ink" on paper that is
    # light somewhere (a lit patch beside a shadow), look for thin dark strokes only.
    if found is None or _looks_like_area(found.keep):
        found = _second_look(small, paper, factor, found, local_correction(residual), select)
    looked_inside = None
    if found is not None and found.sign > 0:
        # A sheet is looked inside before the thin-stroke looks: those would find the sheet's
        # edges (thin dark steps) as readily as the faint digit on it.
        looked_inside = found
        done, result = inside(_sheet_around(found, small, factor))
        if done:
            return result
    if found is None or _not_dark_strokes(found):
        found = _second_look(small, paper, factor, found, stroke_background(residual), select)
    elif not (found.sign > 0 and is_sheet(found.keep)) and _stroke_share(found, residual) < 0.5:
        # Mostly not strokes: a step (a shadow's or a sheet's edge, perhaps joined to the digit), or
        # the strokes of a bold digit cropped tightly.  Look for thin dark strokes; keep them even
        # inside the first find unless, measured with a window twice as wide, that was strokes.
        anywhere = _stroke_share(found, residual, STROKE_WINDOW // 2) < 0.5
        found = _second_look(small, paper, factor, found, stroke_background(residual), select, anywhere=anywhere)
    if found is None:
        raise NoDigitError(NO_DIGIT)
    if touches_edge(found.keep):
        found = _dark_inside(small, paper, factor, found, local_correction(residual), select)
    if found.sign > 0 and found is not looked_inside:  # the same find would fail the same way
        done, result = inside(found.keep)
        if done:
            return result
    return finish(Found(gray, found, factor, offset))


@dataclass(frozen=True)
class Ink:
    """Where the digit is on the small copy, and how to turn picture values into ink strength."""

    keep: np.ndarray  # mask of the digit's components on the small copy
    paper: Paper
    sign: float  # -1 for dark ink, +1 for light ink
    level: float  # typical stroke contrast


@dataclass(frozen=True)
class Found:
    """Where the ink is: the picture searched, the ink on its small copy, and how the two map."""

    gray: np.ndarray  # the picture searched: the whole one, or the sheet cut out of a desk photo
    ink: Ink
    factor: int  # the small copy's pixel is factor×factor of gray's
    offset: tuple[int, int]  # (row, column) of gray's top-left corner in the opened picture


def _find_ink(
    small: np.ndarray, paper: Paper, factor: int, select: Callable[[np.ndarray], np.ndarray],
    residual: np.ndarray | None = None,
) -> Ink | None:
    """Decide polarity and contrast against the paper model and pick the digit's components, or None.

    `residual`: against_paper(small, paper, factor), if the caller has it already.

    If nothing stands out from the pixel noise, look again at 3×3 averages: strokes are coherent
    and keep their contrast while the noise drops threefold (faint pencil in a grainy photo).
    """
    if residual is None:
        residual = against_paper(small, paper, factor)
    for smoothing in (1, 3):
        if smoothing > 1:
            residual = cv2.blur(residual, (smoothing, smoothing), borderType=cv2.BORDER_REPLICATE)
        noise = pixel_noise(residual, gap=smoothing)
        sign = ink_sign(residual, noise)
        ink = sign * residual
        try:
            level = ink_level(ink, noise)
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
            return Ink(keep, paper, sign, level)
    return None


def _edge_band(keep: np.ndarray) -> bool:
    """True if what was kept runs off the picture and is a straight band (a desk's or shadow's edge, or a 1)."""
    if not touches_edge(keep):
        return False
    labels = labelled(keep)
    return labels.count == 1 and bool(line_thinness(labels)[0] <= 0.15)


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
    rest = np.where(dilate(keep if hidden is None else hidden, 5), 0, ink)
    try:
        faint = ink_level(rest, noise)
        found = select((rest if hidden is None else ink) > max(faint / 2, 3 * noise))
    except NoDigitError:
        return keep, level
    box = bbox(found)
    big = max(box[1] - box[0], box[3] - box[2]) >= 0.1 * max(ink.shape)
    return (found, faint) if faint < 0.6 * level and big and not touches_edge(found) else (keep, level)


def _is_crumb(keep: np.ndarray) -> bool:
    """True if what was kept is tiny beside the picture: a speck, or a fragment of faint strokes."""
    top, bottom, left, right = bbox(keep)
    return max(bottom - top, right - left) < CRUMB * max(keep.shape)


def _crumbs(mask: np.ndarray) -> np.ndarray:
    """The mask's components that are tiny beside the picture (see _is_crumb)."""
    c = labelled(mask)
    return paint(c, np.maximum(c.bottom - c.top, c.right - c.left) < CRUMB * max(mask.shape))


def _second_look(
    small: np.ndarray,
    paper: Paper,
    factor: int,
    found: Ink | None,
    local: np.ndarray,
    select: Callable[[np.ndarray], np.ndarray],
    anywhere: bool = False,
) -> Ink | None:
    """Look for the ink again with a local correction of the paper; keep the new find if it is somewhere else
    (or `anywhere`)."""
    retry = _find_ink(small, Paper(paper.coef, paper.shape, local, factor), factor, select)
    if retry is not None and (found is None or anywhere or _is_elsewhere(retry.keep, found.keep)):
        return retry
    return found


def _dark_inside(
    small: np.ndarray,
    paper: Paper,
    factor: int,
    found: Ink,
    local: np.ndarray,
    select: Callable[[np.ndarray], np.ndarray],
) -> Ink:
    """Ink that runs off the picture may be a step, not strokes: light "ink" the lit side of a shadow's
    edge or a lit strip between shadows (chalk is written inside the board), dark "ink" a desk's
    or a sheet's edge.  With the lighting followed locally, dark strokes that stay inside the
    picture win; for dark ink only if they lie elsewhere (not a piece of a digit cut by the frame)."""
    retry = _find_ink(small, Paper(paper.coef, paper.shape, local, factor), factor, select)
    if (retry is not None and retry.sign < 0 and not touches_edge(retry.keep)
            and (found.sign > 0 or _is_elsewhere(retry.keep, found.keep))):
        return retry
    return found


def _looks_like_area(keep: np.ndarray) -> bool:
    """True if the kept ink is a broad patch (shadow, lit area, sheet of paper) rather than pen strokes."""
    # Strokes are at most ~1/5 of a digit's size wide (bold fonts) and, unless the picture is a tight
    # crop, a few percent of the picture.  A tight crop may trigger a second look; _is_elsewhere then
    # keeps the first answer.
    return _is_solid(keep) or stroke_width(keep) > 0.05 * max(keep.shape)


def _is_solid(keep: np.ndarray) -> bool:
    """True if the kept ink is too broad for the strokes of a digit its size, even a bold one."""
    top, bottom, left, right = bbox(keep)
    return stroke_width(keep[top:bottom, left:right]) > 0.25 * max(bottom - top, right - left)


def _is_elsewhere(second: np.ndarray, first: np.ndarray) -> bool:
    """True if most of the second look's ink lies outside the first look's (a new find, not a hollowed copy)."""
    return np.count_nonzero(second & dilate(first, 3)) < 0.5 * np.count_nonzero(second)


def _reaches_edge(found: Found, sheet: np.ndarray, factor: int, offset: tuple[int, int]) -> bool:
    """True if the ink found in a sheet cut out by cut_sheet comes within 2 px of the cut-out's edge.

    `sheet` is the mask on the small copy (its `factor`) of the picture at `offset`."""
    rows, cols = np.nonzero(found.ink.keep)
    y = (rows * found.factor + found.offset[0] - offset[0]) // factor
    x = (cols * found.factor + found.offset[1] - offset[1]) // factor
    rim = dilate(~sheet, 9)  # the cut-out's edge is 2 px in from the sheet's (dilate size 5)
    return bool(rim[y.clip(0, sheet.shape[0] - 1), x.clip(0, sheet.shape[1] - 1)].any())


def _sheet_around(found: Ink, small: np.ndarray, factor: int) -> np.ndarray:
    """The light patch whose hole holds the light ink found, with it, or else what was found.

    On a sheet lying on a darker desk, with the desk taken for the paper, the paper inside a loop
    of a bold dark digit is a light patch of its own in a hole of the sheet: the sheet is the patch
    to look inside."""
    residual = against_paper(small, found.paper, factor)
    labels = labelled(found.sign * residual > found.level / 2)
    if labels.count == 0:  # found on 3×3 averages (faint ink in a grainy photo): no sheet in sight
        return found.keep
    biggest = paint(labels, np.arange(labels.count) == np.argmax(labels.area))
    if (found.keep & biggest).any() or (found.keep & ~fill_holes(biggest)).any():
        return found.keep
    return biggest | found.keep


def _not_dark_strokes(found: Ink) -> bool:
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


def _stroke_share(found: Ink, residual: np.ndarray, window: int = STROKE_WINDOW) -> float:
    """The share of the ink found that is thin strokes of its polarity, narrower than 1/window of the picture.

    A closing (an opening for light ink) that wide fills strokes in but keeps steps, such as a
    shadow's or a sheet's edge, where they are: what it takes away is the strokes' part of the ink.
    """
    # On block averages about 128 px across (cheap), compared over the blocks the ink touches:
    # averaging moves a thin stroke's weight to its neighbours, but keeps it in its block.
    k = max(1, max(residual.shape) // 128)
    ink = shrink(found.sign * residual, k)
    blocks = pool_blocks(found.keep, k, cv2.dilate)
    size = max(3, (max(ink.shape) // window) | 1)
    thin = ink - cv2.morphologyEx(ink, cv2.MORPH_OPEN, square(size))
    return float(thin[blocks].sum()) / max(float(ink[blocks].sum()), 1e-6)
