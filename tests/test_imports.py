"""`predict`, `evaluate`, `inspect` and `--help` never import TensorFlow or Keras; records, no Rich; `--help`, no OpenCV."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, digit_image

PROBE = """
import json, sys
from typer.testing import CliRunner
from digitcli.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))
rich = any(m.split('.')[0] == 'rich' for m in sys.modules)
cv2 = 'cv2' in sys.modules
print(json.dumps({"exit": result.exit_code, "heavy": heavy, "rich": rich, "cv2": cv2,
                  "output": result.output[-500:]}))
"""


def run_in_fresh_process(*args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, installed or not
    out = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("command", ["predict", "evaluate", "inspect", "help"])
def test_command_does_not_import_tensorflow(command, tmp_path, tiny_model):
    image = tmp_path / "seven.png"
    digit_image(7).save(image)
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join("3," + ",".join(["0"] * 784) for _ in range(3)) + "\n")
    args = {
        "predict": ["predict", image, "--model", tiny_model, "--format", "jsonl"],
        "evaluate": ["evaluate", "--model", tiny_model, "--data", csv, "--format", "json"],
        "inspect": ["inspect", tiny_model, "--image", image],
        "help": ["--help"],
    }[command]
    result = run_in_fresh_process(*args)
    assert result["exit"] == 0, result["output"]
    assert result["heavy"] == []
    if command in ("help", "predict"):  # OpenCV is for pictures: --help must not pay its import
        assert result["cv2"] == (command == "predict")


@pytest.mark.parametrize("output_format", ["jsonl", "csv", "json", "table"])
def test_records_for_programs_do_not_import_rich(output_format, tmp_path, tiny_model):
    image = tmp_path / "seven.png"
    digit_image(7).save(image)
    result = run_in_fresh_process("predict", image, "--model", tiny_model, "--format", output_format)
    assert result["exit"] == 0, result["output"]
    assert result["rich"] == (output_format == "table")  # Rich costs ~30 ms at every start
