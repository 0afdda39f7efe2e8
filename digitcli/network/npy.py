"""Reading a .npy member's header (shape, order, dtype) before its data: NumPy allocates the
declared shape first, so a 1 KB file could otherwise ask for terabytes."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy


def read_header(stream: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy stream, which is left at the start of the data.

    ValueError for a stream that is not .npy or of an unknown version.
    """
    version = npy.read_magic(stream)
    if version == (1, 0):
        return npy.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy.read_array_header_2_0(stream)
    if version == (3, 0):  # differs from 2.0 only in the header's text encoding; no public reader
        return npy._read_array_header(stream, version)
    raise ValueError(f".npy version {version} is not supported")
