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

The steps live in their own modules: ops (OpenCV primitives), paper (the surface, noise, polarity,
contrast), components (which component is the digit, ruled lines), sheet (paper on a desk), find
(steps 0-5) and frame (steps 6-7); this one holds the entry points.  Pillow decodes, keeps a median
filter (OpenCV's takes wide windows on 8-bit pictures only) and still does the final resizes:
OpenCV's area and Lanczos-4 filters moved digits by a pixel and lost a picture on the tuning seeds.
A 28×28 MNIST picture costs about 5 µs when load_digits tests a batch of them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from digitcli.errors import DigitcliError, NoDigitError, UsageError
from digitcli.vision.ops import as_unit_float, resize, to_uint8
from digitcli.vision.frame import SIZE, digit_input, mnist_like
from digitcli.vision.find import locate_ink
from digitcli.vision.candidates import Candidates, propose
from digitcli.vision.decode import open_gray


MODES = ("auto", "none")
DRAFT_SIZE = (800, 800)  # JPEGs may decode at 1/2, 1/4 or 1/8 while staying >= 800 px per side


def to_mnist(gray: np.ndarray, *, mode: str = "auto") -> np.ndarray:
    """Normalise a grey picture (float in [0, 1], 1 = white; uint8 also accepted) to MNIST's 28×28 uint8.

    mode="auto" finds the digit and prepares it like MNIST (an input that already is MNIST-like is
    returned unchanged); mode="none" only resizes to 28×28 and keeps the polarity.
    Raises NoDigitError when there is no ink to be found.
    """
    _check_mode(mode)
    return _to_mnist(as_unit_float(gray), mode)


def _to_mnist(gray: np.ndarray, mode: str) -> np.ndarray:
    """to_mnist on a checked float32 picture (open_gray's are: the check costs a pass over a photo)."""
    if mode == "none":
        return to_uint8(gray if gray.shape == (SIZE, SIZE) else resize(gray, (SIZE, SIZE)))
    if gray.shape == (SIZE, SIZE) and mnist_like(gray[None])[0]:
        return to_uint8(gray)
    return _normalise(gray)


def load_digit(path: Path, *, mode: str = "auto") -> np.ndarray:
    """Open an image file and normalise it to MNIST's 28×28 uint8 (see to_mnist)."""
    outcome = load_digits([path], mode=mode)[0]
    if isinstance(outcome, DigitcliError):
        raise outcome
    return outcome


def load_digits(paths: Sequence[Path | str], *, mode: str = "auto",
                contest: Callable[[np.ndarray], bool] | None = None) -> list[np.ndarray | Candidates | DigitcliError]:
    """load_digit for many files: each one's 28×28 uint8, or the error that stopped it, in order.

    With `contest` (mode "auto" only), each picture's Candidates instead, for network.choice to
    choose from: only the detailed search's input unless contest(that input) is true or the search
    found nothing (and only the picture itself for an MNIST-like picture).

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
            outcomes.append(_prepared(path, gray, mode, contest))
    if small:
        stack = np.stack([outcomes[i] for i in small])
        for i, like, pixels in zip(small, mnist_like(stack), to_uint8(stack)):
            if like:
                outcomes[i] = pixels if contest is None else Candidates(pixels[None], ("as-is",))
            else:
                outcomes[i] = _prepared(paths[i], outcomes[i], mode, contest)
    return outcomes


def _prepared(path: Path | str, gray: np.ndarray, mode: str,
              contest: Callable[[np.ndarray], bool] | None) -> np.ndarray | Candidates | NoDigitError:
    """to_mnist (with `contest`: the candidates, see load_digits), with "no digit" as a value naming the file."""
    try:
        if contest is None:
            return _to_mnist(gray, mode)
        try:
            searched = _normalise(gray)  # MNIST-like pictures were kept as they are already
        except NoDigitError:
            searched = None
        if searched is not None and not contest(searched):
            return Candidates(searched[None], ("search",))
        return propose(gray, searched)
    except NoDigitError as err:
        return NoDigitError(f"{path}: {err}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown preprocessing mode {mode!r}; choose one of: {', '.join(MODES)}")


def _normalise(gray: np.ndarray) -> np.ndarray:
    """Find the digit in a photo or scan and prepare it like MNIST (see the module docstring)."""
    return locate_ink(gray, digit_input)
