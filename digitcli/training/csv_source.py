"""Datasets as CSV files: a label and 784 pixels a row, parsed in bounded chunks."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from digitcli.errors import DataError
from digitcli.files import open_regular
from digitcli.training.labelled import PIXELS, checked


CSV_CHUNK_ROWS = 4096  # parse CSVs in blocks so a 60k-row file never exists as float64 at once


# A row of 785 numbers is 2-4 KB, 16 KB even written as "255.000000000"; a longer line is not a
# row of this format, and reading it whole could take all memory.
CSV_LINE_MAX = 1 << 16


def load_csv(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    xs, ys = [], []
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs like to write.
        with io.TextIOWrapper(open_regular(path, DataError), encoding="utf-8-sig") as f:
            rows = ((n, line) for n, line in enumerate(_lines(path, f), start=1) if line.strip())
            first = next(rows, None)
            if first is None:
                raise DataError(
                    f"{path}: empty CSV file (expected rows of label + {PIXELS} pixels)"
                )
            if _is_number(first[1].split(",", 1)[0]):  # no header row: the first row is data
                rows = itertools.chain([first], rows)
            for chunk in _chunks(rows, CSV_CHUNK_ROWS):
                values = _parse_csv_chunk(path, chunk)
                numbers = [n for n, _ in chunk]
                x, y = checked(
                    values[:, 1:], values[:, 0], str(path), where=lambda i: f"line {numbers[i]}"
                )
                xs.append(x)
                ys.append(y)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text CSV file ({e.reason} at byte {e.start})") from e
    if not xs:
        raise DataError(f"{path}: empty CSV file (a header but no data rows)")
    return np.concatenate(xs), np.concatenate(ys), "single split: all rows"


def _lines(path: Path, f: io.TextIOBase) -> Iterator[str]:
    """The lines of `f`, refusing one too long to be a CSV row rather than reading it whole."""
    for n, line in enumerate(iter(lambda: f.readline(CSV_LINE_MAX + 1), ""), start=1):
        if len(line) > CSV_LINE_MAX:
            raise DataError(f"{path}: line {n} is longer than {CSV_LINE_MAX} characters, "
                            f"too long for a row of label + {PIXELS} pixels")
        yield line


def _chunks(rows: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _parse_csv_chunk(path: Path, chunk: list[tuple[int, str]]) -> np.ndarray:
    """Numbers of one block of CSV rows; the slow per-field scan runs only to explain a failure."""
    for n, line in chunk:
        columns = line.count(",") + 1
        if columns != PIXELS + 1:
            raise DataError(
                f"{path}: line {n} has {columns} columns, "
                f"expected {PIXELS + 1} (label + {PIXELS} pixels)"
            )
    lines = [line for _, line in chunk]
    try:
        return np.loadtxt(lines, delimiter=",", dtype=np.int16, ndmin=2)  # fast path: integers
    except ValueError:
        pass
    try:
        # Slower, but reads "12.0" as written by some exports; the range check rejects "12.5".
        return np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        pass
    for n, line in chunk:
        for column, field in enumerate(line.split(","), start=1):
            if not _is_number(field):
                raise DataError(
                    f"{path}: line {n}, column {column}: {field.strip()!r} is not a number"
                )
    raise DataError(f"{path}: values NumPy cannot read as numbers")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
