"""Machine records: every float in 7 significant digits, spelt one way in every format."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np

from digitcli.predict import Prediction, seven_digits
from digitcli.output.records import RecordText

# Values that float arithmetic turns into 17-digit spellings when rounded naively.
AWKWARD = [1.0898720000000001e-17, 5.432981999999999e-19, 1.3101e-08, 0.07295617000000001,
           0.9999997123, 2.936581234e-05, 3.1e-300, 0.0, 1.0]


def _significant(text: str) -> int:
    mantissa = re.split("[eE]", text)[0].replace("-", "").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "e" not in text.lower() else len(mantissa)


def test_seven_digits_are_the_nearest_seven_digit_decimals():
    rounded = seven_digits(np.array(AWKWARD))
    for value, result in zip(AWKWARD, rounded.tolist()):
        assert result == float(f"{value:.7g}")
        assert _significant(repr(result)) <= 7


def test_csv_and_json_spell_every_number_alike():
    p = seven_digits(np.array([AWKWARD[:9] + [0.0]]))[0]
    p = p / p.sum()  # a probability row, as records carry
    p = seven_digits(p)
    prediction = Prediction("a.png", "ok", p)
    line = RecordText("jsonl", top_k=2)(prediction)
    raw = line[line.index('"probabilities":[') + 17 : line.index("]")].split(",")
    assert all(_significant(v) <= 7 for v in raw)
    row = next(csv.reader(io.StringIO(RecordText("csv")(prediction))))
    assert row[4:14] == raw  # p0…p9: the same text as in the JSON record
    assert row[3] == re.search(r'"confidence":([^,]+)', line).group(1)
    assert json.loads(line)["probabilities"] == [float(v) for v in row[4:14]]
