"""Output for programs: prediction records (JSONL, CSV, JSON) streamed as they arrive, and the
JSON documents of `evaluate`, `inspect` and `train`.

Kept apart from tables.py (Rich tables for people) so that machine-readable output never
imports Rich: that saves about 30 ms at every start.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import orjson

from digitcli import files
from digitcli.predict import NumberPrediction, Prediction

CSV_FIELDS = ["path", "status", "digit", "confidence", *[f"p{d}" for d in range(10)], "error",
              "reason"]
NUMBER_CSV_FIELDS = ["path", "status", "number", "confidence", "digit_confidences", "boxes",
                     "error", "reason"]
TABLE_ROWS_MAX = 1000  # beyond this a per-image table helps nobody: summarise instead


@dataclass(frozen=True)
class RecordText:
    """One prediction as the text of its record in a jsonl, csv or json output (None for a table).

    Plain data, so worker processes can make the text beside the prediction.
    """

    format: str
    top_k: int | None = None
    number: bool = False

    @property
    def csv_fields(self) -> list[str]:
        return NUMBER_CSV_FIELDS if self.number else CSV_FIELDS

    def __call__(self, prediction: Prediction | NumberPrediction) -> str | None:
        if self.format not in ("jsonl", "csv", "json"):
            return None
        record = prediction.as_record(self.top_k)
        record["path"] = path_text(record["path"])
        if self.format == "csv":
            return csv_line(number_csv_row(record) if self.number else csv_row(record))
        return json_text(record) + ("\n" if self.format == "jsonl" else "")


def path_text(path: str) -> str:
    """A file name as records and messages write it: UTF-8, with each byte that is not UTF-8
    (Python keeps those as lone surrogates) written as `\\xNN`, the same in every format."""
    if path.isascii():
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_text(record: dict) -> str:
    """A record as compact JSON on one line.

    orjson, because formatting the 14 floats of a record is most of a worker's time after
    decoding with the standard json module (14 µs a record, against 0.7 µs).
    """
    try:
        return orjson.dumps(record).decode()
    except orjson.JSONEncodeError:  # a message quoting a name that is not UTF-8
        return orjson.dumps(_texts_cleaned(record)).decode()


def _texts_cleaned(value):
    if isinstance(value, str):
        return path_text(value)
    if isinstance(value, dict):
        return {k: _texts_cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_texts_cleaned(v) for v in value]
    return value


def number_text(value):
    """A float spelt as the JSON records spell it (`1.3101e-8`, `0.00002936581`), for CSV."""
    return orjson.dumps(value).decode() if isinstance(value, float) else value


def csv_line(values: list) -> str:
    """One CSV line. A field with a carriage return is quoted too: Python's csv module quotes
    only the characters of the line terminator ("\\n"), and an unquoted "\\r" splits the
    record for most readers."""
    line = io.StringIO()
    risky = any(isinstance(v, str) and "\r" in v for v in values)
    csv.writer(line, lineterminator="\n",
               quoting=csv.QUOTE_ALL if risky else csv.QUOTE_MINIMAL).writerow(values)
    return line.getvalue()


class PredictionSink:
    """Writes predictions as they arrive, so memory stays flat however many images there are."""

    def __init__(self, output_format: str, top_k: int, stream: TextIO | None = None, *,
                 number: bool = False):
        self.text = RecordText(output_format, top_k, number)
        self.stream = stream or sys.stdout
        self.count = 0
        self.rows: list[Prediction] = []  # table format only, up to TABLE_ROWS_MAX
        self.digits = np.zeros(10, dtype=np.int64)
        self.failures = 0
        self.unsure = 0
        if output_format == "csv":
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow(self.text.csv_fields)
            self._write(line.getvalue())
        elif output_format == "json":
            # Opened now, so that whenever Ctrl-C lands, close() makes the array whole.
            self._write("[")

    def add(self, prediction: Prediction | NumberPrediction, text: str | None = None) -> None:
        """Write one prediction; `text` is its record's text when a worker has made it already."""
        if self.text.format == "table":
            if len(self.rows) <= TABLE_ROWS_MAX:
                self.rows.append(prediction)
            for digit in _digits_read(prediction):
                self.digits[digit] += 1
        else:
            text = text if text is not None else self.text(prediction)
            if self.text.format == "json":
                text = ("\n  " if self.count == 0 else ",\n  ") + text
            self._write(text)
        self.failures += prediction.status == "error"
        self.unsure += prediction.status == "unsure"
        self.count += 1

    def close(self, *, partial: bool = False) -> None:
        """End the output; `partial` (stopped by Ctrl-C or SIGTERM): only what keeps the records
        written so far valid (the end of the JSON array), and no table."""
        if self.text.format == "json":
            self._write("]\n" if self.count == 0 else "\n]\n")
        elif self.text.format == "table" and self.rows and not partial:
            from digitcli.output import tables  # Rich: only people's tables need it

            number = self.text.number
            if len(self.rows) == 1 and self.rows[0].status != "error":
                table = (tables.number_table if number else tables.prediction_table)(self.rows[0])
            elif self.count <= TABLE_ROWS_MAX:
                table = (tables.numbers_table(self.rows) if number
                         else tables.predictions_table(self.rows, self.text.top_k))
            else:
                table = tables.digit_counts_table(self.digits, self.count, self.failures,
                                                  self.unsure)
            tables.console(self.stream).print(table)

    def _write(self, text: str) -> None:
        try:  # a try costs nothing until it fails: this is the hot path
            self.stream.write(text)
        except OSError:
            with files.writing(stream_name(self.stream)):
                raise


def stream_name(stream) -> str:
    """How a message names an output stream: "standard output", or its file's name."""
    if stream is sys.stdout or stream is sys.__stdout__:
        return "standard output"
    if stream is sys.stderr or stream is sys.__stderr__:
        return "standard error"
    return str(getattr(stream, "name", "an output stream"))


def _digits_read(prediction: Prediction | NumberPrediction) -> list[int]:
    if isinstance(prediction, NumberPrediction):
        return [d.digit for d in prediction.digits]
    return [] if prediction.digit is None else [prediction.digit]


def csv_row(record: dict) -> list:
    """A prediction record's values in CSV_FIELDS order."""
    probabilities = record["probabilities"] or [None] * 10
    return [record["path"], record["status"], record["digit"], number_text(record["confidence"]),
            *map(number_text, probabilities), record["error"], record["reason"]]


def number_csv_row(record: dict) -> list:
    """A number record in NUMBER_CSV_FIELDS order: per-digit values space-separated, boxes as
    x0,y0,x1,y1."""
    return [record["path"], record["status"], record["number"], number_text(record["confidence"]),
            " ".join(number_text(d["confidence"]) for d in record["digits"]),
            " ".join(",".join(map(str, d["box"])) for d in record["digits"]),
            record["error"], record["reason"]]


def write_json(value, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    with files.writing(stream_name(stream)):
        json.dump(value, stream, indent=2)
        stream.write("\n")
