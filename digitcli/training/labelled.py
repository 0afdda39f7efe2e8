"""Labelled digits as every source delivers them: uint8 (N, 784) images and uint8 (N,) labels, checked."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitcli.errors import DataError


SIDE = 28
PIXELS = SIDE * SIDE


def checked(
    x: np.ndarray, y: np.ndarray, name: str, where: Callable[[int], str] = lambda i: f"sample {i}"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate images and labels; return them as uint8 (N, 784) and uint8 (N,)."""
    if y.ndim != 1:
        raise DataError(f"{name}: labels must be a 1-D array, found shape {y.shape}")
    if not (x.ndim == 3 and x.shape[1:] == (SIDE, SIDE) or x.ndim == 2 and x.shape[1] == PIXELS):
        raise DataError(
            f"{name}: images must be {SIDE}x{SIDE} ({PIXELS} pixels), found shape {x.shape}"
        )
    if len(x) != len(y):
        raise DataError(f"{name}: {len(x)} images but {len(y)} labels")
    if len(y) == 0:
        raise DataError(f"{name}: no samples")
    x = _as_uint8(x.reshape(len(x), PIXELS), 255, "pixel value", name, where)
    return x, _as_uint8(y, 9, "label", name, where)


def _as_uint8(
    a: np.ndarray, top: int, what: str, name: str, where: Callable[[int], str]
) -> np.ndarray:
    """`a` as uint8 after checking every value is a whole number in 0..top."""
    if a.dtype == np.uint8 and top == 255:  # every byte is a valid pixel: skip the scan
        return a
    if a.dtype.kind not in "iuf":
        raise DataError(f"{name}: {what}s must be numbers, found {a.dtype}")
    with np.errstate(invalid="ignore"):
        bad = (a < 0) | (a > top)
        if a.dtype.kind == "f":
            bad |= a != np.floor(a)  # NaN is unequal to itself, so it is caught here too
    if bad.any():
        k = int(np.argmax(bad.ravel()))
        value = a.ravel()[k]
        shown = f"{value:g}" if a.dtype.kind == "f" else str(value)
        row = k // (a.size // len(a))
        raise DataError(f"{name}: {where(row)} has {what} {shown}, expected a whole number 0-{top}")
    return a.astype(np.uint8, copy=False)
