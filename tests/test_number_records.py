"""`predict --number`: the records' schema, the CSV and table forms, and how "unsure" spreads."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from digitcli.cli import app
from digitcli.predict import DigitReading, NumberPrediction
from tests.conftest import REPO

runner = CliRunner()
BUNDLED = str(REPO / "models" / "digitcli-mnist.npz")


def number_picture(path, strokes_per_digit: list[list[tuple]], width: int = 420) -> None:
    """Dark strokes on white paper, one group of line segments per digit, left to right."""
    image = Image.new("L", (width, 160), 255)
    draw = ImageDraw.Draw(image)
    for i, strokes in enumerate(strokes_per_digit):
        for x0, y0, x1, y1 in strokes:
            draw.line((40 + 120 * i + x0, 30 + y0, 40 + 120 * i + x1, 30 + y1), fill=0, width=9)
    image.save(path)


ONE = [(30, 0, 30, 100)]
SEVEN = [(0, 0, 60, 0), (60, 0, 20, 100)]


def test_number_record_schema(tmp_path):
    number_picture(tmp_path / "n.png", [ONE, SEVEN, ONE])
    result = runner.invoke(app, ["predict", str(tmp_path / "n.png"), "--number", "-m", BUNDLED,
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert set(record) == {"path", "status", "number", "confidence", "digits", "error", "reason"}
    assert record["number"] == "171"
    assert record["status"] == "ok" and record["error"] is None and record["reason"] is None
    assert [d["digit"] for d in record["digits"]] == [1, 7, 1]
    for d in record["digits"]:
        assert set(d) == {"digit", "confidence", "box", "status", "reason"}
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= 420 and 0 <= y0 < y1 <= 160
    lefts = [d["box"][0] for d in record["digits"]]
    assert lefts == sorted(lefts)
    assert record["confidence"] == min(d["confidence"] for d in record["digits"])


def test_number_csv_and_table(tmp_path):
    number_picture(tmp_path / "n.png", [SEVEN, ONE])
    csv_out = runner.invoke(app, ["predict", str(tmp_path / "n.png"), "--number", "-m", BUNDLED,
                                  "-f", "csv"])
    header, row = csv_out.stdout.strip().splitlines()
    assert header == "path,status,number,confidence,digit_confidences,boxes,error,reason"
    assert row.split(",")[2] == "71" and len(row.split(",")[4].split()) == 2
    table = runner.invoke(app, ["predict", str(tmp_path / "n.png"), "--number", "-m", BUNDLED])
    assert "number 71" in table.stdout and "box" in table.stdout


def test_blank_picture_is_an_error_record_and_exit_3(tmp_path):
    Image.new("L", (200, 100), 255).save(tmp_path / "blank.png")
    result = runner.invoke(app, ["predict", str(tmp_path / "blank.png"), "--number", "-m", BUNDLED,
                                 "-f", "jsonl"])
    assert result.exit_code == 3
    record = json.loads(result.stdout)
    assert record["status"] == "error" and record["error"] == "no digit found"
    assert record["number"] is None and record["digits"] == []


def test_an_unsure_digit_makes_the_number_unsure():
    digits = (DigitReading(4, 0.99, (0, 0, 10, 20)),
              DigitReading(2, 0.51, (12, 0, 22, 20), "weak evidence for every digit"))
    record = NumberPrediction("n.png", "unsure", digits).as_record()
    assert record["number"] == "42" and record["status"] == "unsure"
    assert record["reason"] == "digit 2 of 2: weak evidence for every digit"
    assert [d["status"] for d in record["digits"]] == ["ok", "unsure"]


def test_min_confidence_reaches_each_digit(tmp_path):
    number_picture(tmp_path / "n.png", [ONE, SEVEN])
    result = runner.invoke(app, ["predict", str(tmp_path / "n.png"), "--number", "-m", BUNDLED,
                                 "-f", "jsonl", "--min-confidence", "1.0"])
    record = json.loads(result.stdout)
    assert record["status"] == "unsure"
    assert all(d["status"] == "unsure" for d in record["digits"])
    assert np.isclose(record["confidence"], min(d["confidence"] for d in record["digits"]))


def test_number_refuses_preprocess_none(tmp_path):
    number_picture(tmp_path / "n.png", [ONE])
    result = runner.invoke(app, ["predict", str(tmp_path / "n.png"), "--number",
                                 "--preprocess", "none"])
    assert result.exit_code == 2
    assert "--number" in result.stderr and "--preprocess none" in result.stderr
