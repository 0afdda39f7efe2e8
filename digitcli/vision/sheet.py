"""A light sheet of paper on a darker desk: finding it and cutting it out, so its edges are not taken for ink."""

from __future__ import annotations

import numpy as np

from digitcli.vision.ops import bbox, dilate, fill_holes, median, otsu, shrink, stroke_width
from digitcli.vision.components import labelled, paint


SHEET_AREA = (0.04, 0.97)  # a sheet of paper on a desk covers this share of the picture,
SHEET_CONTRAST = 0.1  # and the desk around it is at least this much darker (medians, 0..1)


def sheet_picture(
    gray: np.ndarray, small: np.ndarray, patch: np.ndarray, factor: int
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Cut out the patch (holes included) with everything around it set to the patch's own brightness.

    Returns the cut-out and the (row, column) of its top-left corner in `gray`, or None unless the
    patch looks like a sheet (see is_sheet).
    """
    if not is_sheet(patch):
        return None
    return cut_sheet(gray, small, fill_holes(patch), factor)


def cut_sheet(
    gray: np.ndarray, small: np.ndarray, filled: np.ndarray, factor: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """The sheet `filled` (a mask on the small copy) cut out of gray, the rest set to its brightness.

    Returns the cut-out and the (row, column) of its top-left corner in `gray`.
    """
    top, bottom, left, right = bbox(filled)
    filled = filled[top:bottom, left:right]
    # Shrink the sheet a little: its edges (shadow, blur) must not look like ink.
    inside = ~dilate(~filled, 5)
    paper = float(median(small[top:bottom, left:right][filled]))
    y0, y1 = top * factor, min(bottom * factor, gray.shape[0])
    x0, x1 = left * factor, min(right * factor, gray.shape[1])
    # Each small pixel covers factor×factor pixels of gray: repeating it is the same as indexing
    # rows // factor and columns // factor, at a fraction of the cost on a photo.
    inside = np.repeat(np.repeat(inside, factor, axis=0), factor, axis=1)[: y1 - y0, : x1 - x0]
    return np.where(inside, gray[y0:y1, x0:x1], np.float32(paper)), (y0, x0)


def sheet_on_desk(small: np.ndarray) -> np.ndarray | None:
    """The mask (holes filled) of a light sheet of paper lying on a darker desk, or None.

    On a copy about 128 px across, the pixels brighter than Otsu's threshold form one big solid
    component (holes, the strokes on it, under 15 %) with straight, sharp edges, light itself and
    clearly brighter than the rest.  A white page half in a hard shadow may pass too: its lit part
    is then searched first, which is harmless when the digit is there, and falls back to the whole
    picture when nothing is found in it or what is found reaches its edge.
    """
    k = max(1, max(small.shape) // 128)
    coarse = shrink(small, k)
    light = coarse > otsu(coarse)
    labels = labelled(light)
    if labels.count == 0:
        return None
    area = labels.area
    sheet = fill_holes(paint(labels, np.arange(labels.count) == np.argmax(area)))
    top, bottom, left, right = bbox(sheet)
    if (not SHEET_AREA[0] <= np.count_nonzero(sheet) / sheet.size <= SHEET_AREA[1]
            or area.max() < 0.85 * np.count_nonzero(sheet)  # mostly holes: the loop of a light 0
            # Straight edges: a rectangle's 2·area/perimeter is half its shorter side or more;
            # a bold light digit's is far less.
            or stroke_width(sheet) < 0.4 * min(bottom - top, right - left)):
        return None
    paper, desk = float(median(coarse[sheet])), float(median(coarse[~sheet]))
    if paper < 0.5 or paper - desk < SHEET_CONTRAST:
        return None
    # A sheet's edge is sharp: most of the step happens within 2 px (a lighting gradient's does not).
    step = median(coarse[sheet & dilate(~sheet, 5)]) - median(coarse[~sheet & dilate(sheet, 5)])
    if step < 0.5 * (paper - desk):
        return None
    rows = np.minimum(np.arange(small.shape[0]) // k, sheet.shape[0] - 1)
    cols = np.minimum(np.arange(small.shape[1]) // k, sheet.shape[1] - 1)
    return sheet[rows[:, None], cols[None, :]]


def is_sheet(patch: np.ndarray) -> bool:
    """True if the patch, its holes filled, is solid (a sheet, not strokes) and its holes are small
    and look like strokes drawn on it, not like the paper inside a digit's loops."""
    top, bottom, left, right = bbox(patch)
    box = patch[top:bottom, left:right]
    filled = fill_holes(box)
    holes = filled & ~box
    hole_area = np.count_nonzero(holes)
    solid = stroke_width(box) >= 0.2 * min(box.shape) and stroke_width(filled) >= 0.3 * min(box.shape)
    if not solid or not 0 < hole_area <= 0.15 * np.count_nonzero(filled):
        return False
    hole_box = bbox(holes)
    return stroke_width(holes) <= 0.25 * max(hole_box[1] - hole_box[0], hole_box[3] - hole_box[2])
