"""The command line as users and scripts see it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from digitcli.cli import app
from digitcli.errors import ExitCode
from digitcli.predict import chunk_size
from tests.conftest import REPO, digit_image
from tests.test_store import _header, _metadata_with, _model_with, _npy, crafted_keras

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_line_error(result, code: ExitCode, *fragments: str) -> None:
    """The documented exit code, one `digitcli: error:` line naming the problem, no traceback."""
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("digitcli: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    assert "Traceback" not in result.output


@pytest.fixture
def images(tmp_path):
    """A folder with two good digit pictures and a subfolder with one more."""
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    digit_image(7).save(folder / "b_seven.png")
    digit_image(1).save(folder / "a_one.jpg")
    digit_image(0).save(folder / "sub" / "zero.png")
    return folder


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_predict_one_image_prints_a_table_with_ten_bars(images, tiny_model):
    result = run("predict", images / "b_seven.png", "--model", tiny_model)
    assert result.exit_code == 0, result.output
    assert "digit" in result.stdout
    for d in range(10):
        assert f"\n│ {d:>5} │" in result.stdout or f"│     {d} │" in result.stdout
    assert "\x1b[" not in result.stdout  # no ANSI codes when not on a terminal


def test_predict_jsonl_records_are_sorted_and_sum_to_one(images, tiny_model):
    result = run("predict", images, "--recursive", "--format", "jsonl", "--model", tiny_model)
    assert result.exit_code == 0, result.output
    rows = records(result.stdout)
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert len(rows) == 3
    for r in rows:
        assert r["status"] == "ok" and r["error"] is None
        assert len(r["probabilities"]) == 10
        assert sum(r["probabilities"]) == pytest.approx(1.0, abs=1e-6)
        assert r["digit"] == int(np.argmax(r["probabilities"]))
        assert r["confidence"] == pytest.approx(max(r["probabilities"]))


@pytest.mark.parametrize("output_format", ["jsonl", "json", "csv"])
def test_any_file_name_gives_a_valid_record(tmp_path, tiny_model, output_format):
    """Non-ASCII names, names that are not valid UTF-8 at all (Linux allows any bytes), and a
    carriage return: every format writes them the same way, as valid UTF-8, one record each."""
    folder = tmp_path / "names"
    folder.mkdir()
    names = ["café ٣.png", os.fsdecode(b"scan-\xff.png"), "two\rlines.png"]
    for name in names:
        digit_image(7).save(os.path.join(folder, name))
    result = run("predict", folder, "--format", output_format, "--model", tiny_model)
    assert result.exit_code == 0, result.output
    result.stdout_bytes.decode("utf-8")  # strict: valid UTF-8 throughout
    if output_format == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    else:
        rows = json.loads(result.stdout) if output_format == "json" else records(result.stdout)
    assert sorted(os.path.basename(r["path"]) for r in rows) == \
        ["café ٣.png", "scan-\\xff.png", "two\rlines.png"]


def test_predict_without_recursive_stays_in_the_folder(images, tiny_model):
    result = run("predict", images, "--format", "jsonl", "--model", tiny_model)
    assert [r["path"].split("/")[-1] for r in records(result.stdout)] == ["a_one.jpg", "b_seven.png"]


def test_predict_csv_and_json(images, tiny_model):
    csv_out = run("predict", images, "-r", "-f", "csv", "-m", tiny_model).stdout.splitlines()
    assert csv_out[0].startswith("path,status,digit,confidence,p0,")
    assert len(csv_out) == 4
    as_json = json.loads(run("predict", images, "-r", "-f", "json", "-m", tiny_model).stdout)
    assert [r["status"] for r in as_json] == ["ok"] * 3


def test_csv_columns_hold_the_json_values(images, tiny_model):
    """Each CSV row is built in column order by hand: every value sits under its own header."""
    rows = list(csv.DictReader(io.StringIO(
        run("predict", images, "-r", "-f", "csv", "-m", tiny_model).stdout)))
    records = json.loads(run("predict", images, "-r", "-f", "json", "-m", tiny_model).stdout)
    assert len(rows) == len(records) == 3
    for row, record in zip(rows, records):
        assert row["path"] == record["path"] and row["status"] == record["status"]
        assert int(row["digit"]) == record["digit"]
        assert float(row["confidence"]) == record["confidence"]
        assert [float(row[f"p{d}"]) for d in range(10)] == record["probabilities"]
        assert row["error"] == "" and row["reason"] == ""


def test_predict_reads_paths_from_stdin(images, tiny_model):
    paths = f"{images / 'b_seven.png'}\n{images / 'a_one.jpg'}\n"
    result = run("predict", "-", "-f", "jsonl", "-m", tiny_model, input=paths)
    assert result.exit_code == 0, result.output
    assert len(records(result.stdout)) == 2


def test_bad_files_are_reported_and_skipped(images, tiny_model):
    (images / "empty.png").write_bytes(b"")
    (images / "notes.png").write_text("not an image")
    good = (images / "b_seven.png").read_bytes()
    (images / "cut.png").write_bytes(good[: len(good) // 2])
    result = run("predict", images, "-f", "jsonl", "-m", tiny_model)
    assert result.exit_code == ExitCode.PARTIAL
    rows = {r["path"].split("/")[-1]: r for r in records(result.stdout)}
    assert rows["b_seven.png"]["status"] == "ok"
    for bad in ("empty.png", "notes.png", "cut.png"):
        assert rows[bad]["status"] == "error" and rows[bad]["error"]
        assert rows[bad]["digit"] is None and rows[bad]["probabilities"] is None
        assert bad in result.stderr
    assert (images / "cut.png").read_bytes() == good[: len(good) // 2]  # inputs are never touched


def test_a_fifo_in_a_folder_is_an_error_record_and_the_batch_goes_on(images, tiny_model, fifo):
    fifo(images / "c_pipe.png")  # reading it would wait for ever for a writer
    result = run("predict", images, "-f", "jsonl", "-m", tiny_model)
    assert result.exit_code == ExitCode.PARTIAL, result.output
    rows = {r["path"].split("/")[-1]: r for r in records(result.stdout)}
    assert rows["c_pipe.png"]["status"] == "error"
    assert rows["c_pipe.png"]["error"] == "is a named pipe (FIFO), not a regular file"
    assert rows["b_seven.png"]["status"] == rows["a_one.jpg"]["status"] == "ok"


@pytest.mark.parametrize("command", [("predict", "-m"), ("predict", "--number", "-m"), ("inspect",)])
def test_a_fifo_as_the_picture_is_a_one_line_error(tmp_path, tiny_model, fifo, command):
    pipe = fifo(tmp_path / "pipe.png")
    result = run(*command, tiny_model, *(["--image"] if command == ("inspect",) else []), pipe)
    one_line_error(result, ExitCode.INPUT, f"{pipe}: is a named pipe (FIFO), not a regular file")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_save_preprocessed_on_a_full_disk_stops_cleanly_naming_the_file(tmp_path, tiny_model, workers):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(70):
        digit_image(7, size=40).save(folder / f"img{i:03d}.png")
    seen = tmp_path / "seen"
    seen.mkdir()
    (seen / "000066-img066.png").symlink_to("/dev/full")  # writing there: ENOSPC, a full disk
    result = run("predict", folder, "--save-preprocessed", seen, "--workers", workers,
                 "-f", "jsonl", "-m", tiny_model)
    one_line_error(result, ExitCode.OUTPUT, f"cannot write preprocessed input {seen}/000066-img066.png",
                   "No space left on device; free some space and run again")
    rows = records(result.stdout)  # the chunks before the failing one are all there
    size = chunk_size(70, int(workers))
    assert [r["path"] for r in rows] == [str(folder / f"img{i:03d}.png") for i in range(66 // size * size)]
    assert all(r["status"] == "ok" for r in rows)
    assert len(list(seen.glob("0000[0-5]*.png"))) == 60


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_a_bad_digitcli_data_names_the_variable(monkeypatch, tiny_model, command):
    monkeypatch.setenv("DIGITCLI_DATA", "/nonexistent")
    result = run(command, *(["-m", tiny_model] if command == "evaluate" else []))
    assert result.exit_code == ExitCode.DATA
    assert result.stderr == "digitcli: error: DIGITCLI_DATA=/nonexistent: no such file or folder\n"


def test_evaluate_offline_prints_only_its_error_and_never_imports_tensorflow(tmp_path):
    """No --data, no DIGITCLI_DATA, no Keras cache, no network (an unresolvable host here)."""
    code = ("import sys; from digitcli import cli; from digitcli.training import data; data.MNIST_HOST = 'mnist.invalid'\n"
            "try:\n    cli.app(['evaluate'])\n"
            "finally:\n    assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    env = {k: v for k, v in os.environ.items() if k != "DIGITCLI_DATA"} | {"HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == ExitCode.DATA, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("digitcli: error: could not download MNIST (cannot reach "
                                    "mnist.invalid")
    assert result.stderr.count("\n") == 1 and "pass --data DIR" in result.stderr


def test_evaluate_ood_folder_with_a_fifo_counts_it_and_finishes(tmp_path, tiny_model, fifo):
    digits = tmp_path / "digits.csv"
    digits.write_text("".join(f"{d}," + ",".join(["0"] * 784) + "\n" for d in range(10)))
    others = tmp_path / "others"
    others.mkdir()
    digit_image(7).save(others / "a.png")
    fifo(others / "b.png")
    result = run("evaluate", "-m", tiny_model, "--data", digits, "--ood", others, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unsure"]["others"] == 2


def test_missing_path_is_one_line_error(tiny_model):
    result = run("predict", "nowhere.png", "-m", tiny_model)
    assert result.exit_code == ExitCode.INPUT
    assert result.stdout == ""  # no table of one error
    assert result.stderr == "digitcli: error: nowhere.png: no such file or folder\n"


def test_no_paths_on_stdin(tiny_model):
    result = run("predict", "-", "-m", tiny_model, input="")
    assert result.exit_code == ExitCode.INPUT and result.stdout == ""
    assert result.stderr == "digitcli: error: no inputs: `-` read no paths from stdin\n"


def test_a_batch_where_everything_failed(tmp_path, tiny_model):
    """Each failure and one summary on stderr; no table of errors, but records stay data."""
    args = ("predict", tmp_path / "gone.png", tmp_path / "lost.png", "-m", tiny_model)
    result = run(*args)
    assert result.exit_code == ExitCode.INPUT and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"digitcli: {tmp_path}/gone.png: no such file or folder",
        f"digitcli: {tmp_path}/lost.png: no such file or folder",
        "digitcli: error: all 2 inputs failed; nothing was recognised"]
    result = run(*args, "-f", "jsonl")
    assert result.exit_code == ExitCode.INPUT
    assert [r["status"] for r in records(result.stdout)] == ["error", "error"]


def test_folder_without_images(tmp_path, tiny_model):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hi")
    result = run("predict", tmp_path / "docs", "-m", tiny_model)
    one_line_error(result, ExitCode.INPUT)
    assert "no images found" in result.stderr


def test_huge_image_is_refused_without_decoding(tmp_path, tiny_model):
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)
    result = run("predict", path, "-f", "jsonl", "-m", tiny_model)
    assert result.exit_code == ExitCode.INPUT
    (row,) = records(result.stdout)
    assert row["status"] == "error" and "limit" in row["error"]


def test_truncated_jpeg(tmp_path, tiny_model):
    path = tmp_path / "cut.jpg"
    digit_image(7).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:300])
    result = run("predict", path, "-f", "jsonl", "-m", tiny_model)
    assert result.exit_code == ExitCode.INPUT
    assert records(result.stdout)[0]["status"] == "error"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--hidden", "512,0"], "at least 1 unit"),
        (["train", "--hidden", "big"], "comma-separated"),
        (["predict", "x.png", "--top-k", "11"], "--top-k"),
        (["predict", "x.png", "--format", "xml"], "--format"),
        (["evaluate", "--fail-under", "1.5"], "--fail-under"),
    ],
)
def test_bad_option_values(args, fragment):
    result = run(*args)
    one_line_error(result, ExitCode.USAGE, fragment)


def test_damaged_model_is_a_model_error(tmp_path, images):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 broken")
    result = run("predict", images, "-m", bad)
    one_line_error(result, ExitCode.MODEL, str(bad))


def test_model_from_environment_variable(images, tiny_model, monkeypatch):
    monkeypatch.setenv("DIGITCLI_MODEL", str(tiny_model))
    result = run("inspect", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layers"][0]["units"] == 16


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "predict", "x.png", "-m", tmp_path / "missing.npz")
    assert result.exit_code == ExitCode.MODEL
    assert "Traceback" in result.stderr


def test_debug_is_accepted_after_the_command_too(tmp_path):
    result = run("predict", "x.png", "-m", tmp_path / "missing.npz", "--debug")
    assert result.exit_code == ExitCode.MODEL
    assert "Traceback" in result.stderr
    for command in ("predict", "evaluate", "inspect", "export", "train", "rollback"):
        result = run(command, "--debug", "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "--debug" in result.stdout


def test_help_reads_whole_at_80_columns():
    """Every option name whole (not `--save-preprocess…`), usage lines naming the arguments."""
    import re

    import typer.main
    from typer.core import TyperArgument

    group = typer.main.get_command(app)
    narrow = CliRunner(env={"COLUMNS": "80", "TERM": "dumb"})
    for name, command in [(None, group), *group.commands.items()]:
        text = narrow.invoke(app, ["--help"] if name is None else [name, "--help"]).stdout
        assert max(map(len, text.splitlines())) <= 80, name
        assert not re.search(r"\w…(\s|│|$)", text), (name, text)  # no word cut short
        words = set(re.split(r"[\s│,]+", text))
        for param in command.params:
            if isinstance(param, TyperArgument):
                usage = next(line for line in text.splitlines() if "Usage:" in line)
                assert param.metavar.strip("[]") in usage and "{" not in usage, usage
            else:
                for option in (*param.opts, *param.secondary_opts):
                    assert option in words, (name, option)
    top = narrow.invoke(app, ["--help"]).stdout
    assert "Examples: digitcli predict photo.jpg" in top
    predict_help = narrow.invoke(app, ["predict", "--help"]).stdout
    assert re.search(r"Usage: \S+ predict \[OPTIONS\] PATH\.\.\.\s", predict_help)


def _csv_dataset(path, n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 784))
    y = rng.integers(0, 10, n)
    path.write_text("\n".join(",".join(map(str, [label, *row])) for label, row in zip(y, x)) + "\n")
    return path


def test_evaluate_json_and_the_fail_under_gate(tmp_path, tiny_model):
    data = _csv_dataset(tmp_path / "d.csv")
    result = run("evaluate", "-m", tiny_model, "--data", data, "-f", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0 <= report["accuracy"] <= 1 and report["count"] == 50
    assert np.array(report["confusion_matrix"]).sum() == 50
    assert len(report["per_class"]) == 10
    gate = run("evaluate", "-m", tiny_model, "--data", data, "--fail-under", "0.99")
    assert gate.exit_code == ExitCode.BELOW_THRESHOLD
    assert "below --fail-under" in gate.stderr
    assert "Confusion matrix" in gate.stdout


def test_inspect_with_an_image_traces_every_layer(images, tiny_model):
    result = run("inspect", tiny_model, "--image", images / "b_seven.png")
    assert result.exit_code == 0, result.output
    for text in ("Layers", "a[1]", "a[2]", "logits", "softmax", "prediction"):
        assert text in result.stdout
    trace = json.loads(run("inspect", tiny_model, "--image", images / "b_seven.png", "-f", "json").stdout)
    image = trace["image"]
    assert np.array(image["input"]).shape == (28, 28)
    assert [len(a) for a in image["activations"]] == [16, 8]
    assert sum(image["softmax"]) == pytest.approx(1.0)


def test_a_larger_logit_always_has_the_longer_bar():
    """z = -9.44 once drew a longer bar than z = +2.64 (bars of |z|)."""
    from rich.console import Console

    from digitcli.output import tables

    logits = [-9.44, 2.64, 0.0, -1.5, 7.25, -3.0, 1.0, -0.25, 4.5, -6.0]
    softmax = np.exp(logits) / np.exp(logits).sum()
    trace = {"path": "x.png", "input": [[0] * 28] * 28, "activations": [[0.5, 0.0, 2.0]],
             "logits": logits, "temperature": 1.0, "softmax": softmax.tolist(), "unsure": None,
             "digit": 4, "confidence": float(softmax.max())}
    table = next(r for r in tables.trace_renderables(trace) if "logits" in str(getattr(r, "title", "")))
    out = Console(file=io.StringIO(), width=100)
    out.print(table)
    lengths = {}
    for line in out.file.getvalue().splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 5 and cells[1].isdigit():
            ink = cells[3]
            lengths[int(cells[1])] = 8 * ink.count("█") + sum(" ▏▎▍▌▋▊▉".find(c) for c in ink if c in "▏▎▍▌▋▊▉")
    assert sorted(lengths) == list(range(10))
    by_logit = sorted(range(10), key=logits.__getitem__)
    assert [lengths[d] for d in by_logit] == sorted(lengths.values())
    assert len(set(lengths.values())) == 10  # strictly: every larger logit is longer
    assert lengths[1] > lengths[0]  # +2.64 against -9.44


def test_train_writes_a_self_describing_model(tmp_path):
    pytest.importorskip("tensorflow")
    data = _csv_dataset(tmp_path / "d.csv", n=200)
    out = tmp_path / "m.npz"
    result = run("train", "--data", data, "--epochs", "2", "--hidden", "8,4", "--out", out,
                 "--format", "json", "--seed", "3")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] == str(out) and summary["test_count"] == 20
    assert "epoch 1/2" in result.stderr and "epoch 2/2" in result.stderr
    assert "\x1b[" not in result.stderr
    meta = json.loads(run("inspect", out, "-f", "json").stdout)
    assert meta["training"]["seed"] == 3 and meta["training"]["hidden"] == [8, 4]
    assert len(meta["data"]["fingerprint_sha256"]) == 64
    assert meta["versions"]["tensorflow"]
    assert meta["command"].startswith("digitcli")


def test_failed_training_keeps_the_old_model_byte_identical(tmp_path, tiny_model, monkeypatch):
    pytest.importorskip("tensorflow")
    from digitcli.training import model

    before = tiny_model.read_bytes()

    def crash(*args, **kwargs):
        raise MemoryError("simulated crash midway through training")

    monkeypatch.setattr(model, "train", crash)
    data = _csv_dataset(tmp_path / "d.csv")
    result = run("train", "--data", data, "--out", tiny_model, "--quiet")
    assert result.exit_code == ExitCode.INTERNAL
    assert tiny_model.read_bytes() == before
    leftovers = {p.name for p in tiny_model.parent.iterdir()}
    assert leftovers == {tiny_model.name, "d.csv", tiny_model.name + ".lock"}  # no temporary files


def test_train_refuses_to_overwrite_something_that_is_not_a_model(tmp_path):
    precious = tmp_path / "thesis.txt"
    precious.write_text("years of work")
    data = _csv_dataset(tmp_path / "d.csv")
    result = run("train", "--data", data, "--out", precious)
    one_line_error(result, ExitCode.USAGE, "refusing to overwrite")
    assert precious.read_text() == "years of work"


def test_export_writes_a_keras_file(tmp_path, tiny_model):
    pytest.importorskip("tensorflow")
    out = tmp_path / "m.keras"
    result = run("export", tiny_model, "--out", out)
    assert result.exit_code == 0, result.output
    from digitcli.network import store

    x = np.random.default_rng(0).integers(0, 256, (4, 784), dtype=np.uint8)
    np.testing.assert_allclose(store.load(out).probabilities(x), store.load(tiny_model).probabilities(x), atol=1e-6)


def test_bundled_model_meets_the_accuracy_bar(mnist_dir, monkeypatch):
    monkeypatch.setenv("DIGITCLI_DATA", str(mnist_dir))
    result = run("evaluate", "--format", "json", "--fail-under", "0.99")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["count"] == 10_000 and report["accuracy"] >= 0.99


def test_missing_dataset_is_a_data_error(tmp_path):
    result = run("evaluate", "--data", tmp_path / "nowhere")
    one_line_error(result, ExitCode.DATA, "nowhere")


def test_sharded_outputs_concatenate_to_the_whole(tmp_path, tiny_model):
    images = tmp_path / "many"
    images.mkdir()
    for i in range(150):
        digit_image((0, 1, 7)[i % 3], size=30 + i).save(images / f"{i:03d}.png")
    whole = run("predict", images, "-r", "-f", "jsonl", "-m", tiny_model).stdout
    parts = [run("predict", images, "-r", "-f", "jsonl", "-m", tiny_model, "--shard", f"{k}/2").stdout
             for k in (1, 2)]
    assert "".join(parts) == whole
    one_line_error(run("predict", images, "--shard", "3/2"), ExitCode.USAGE, "--shard")


def test_json_output_is_one_valid_array(images, tiny_model):
    rows = json.loads(run("predict", images, "-r", "-f", "json", "-m", tiny_model).stdout)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)


def test_large_batches_are_summarised_not_tabulated(images, tiny_model, monkeypatch):
    from digitcli.output import records

    monkeypatch.setattr(records, "TABLE_ROWS_MAX", 2)
    result = run("predict", images, "-r", "-m", tiny_model)
    assert result.exit_code == 0, result.output
    assert "3 images (use --format jsonl or csv" in result.stdout
    assert "b_seven.png" not in result.stdout


def test_evaluate_counts_a_picture_without_a_digit_as_wrong(tmp_path):
    folder = tmp_path / "set"
    (folder / "7").mkdir(parents=True)
    (folder / "1").mkdir()
    digit_image(7).save(folder / "7" / "a.png")
    digit_image(1).save(folder / "1" / "b.png")
    Image.new("L", (60, 60), 255).save(folder / "1" / "blank.png")
    result = CliRunner().invoke(app, ["evaluate", "--data", str(folder), "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unreadable"] == 1 and report["count"] == 2
    correct = sum(report["confusion_matrix"][d][d] for d in range(10))
    assert report["accuracy"] == pytest.approx(correct / 3)
    assert "no digit found in 1 of 3 pictures" in result.stderr


@pytest.mark.parametrize("craft", [
    lambda tmp: _model_with(tmp, layer0__weights=_header((784, 10**12))),  # was MemoryError
    lambda tmp: _model_with(tmp, metadata=_npy(np.array("[" * 200_000 + "]" * 200_000))),  # RecursionError
    lambda tmp: _metadata_with(tmp, lambda m: m.update(architecture=["dense"])),  # AttributeError
    lambda tmp: _metadata_with(tmp, lambda m: m.update(input_scale="1/255")),  # TypeError
    lambda tmp: _model_with(tmp, layer0__weights=_npy(np.full((784, 16), 1e300))),  # NaN answers
], ids=["huge-shape", "deep-json", "list-architecture", "string-scale", "float64-1e300"])
def test_malformed_model_files_are_model_errors_not_bugs(tmp_path, images, craft):
    path = craft(tmp_path)
    result = run("predict", images / "b_seven.png", "-m", path)
    one_line_error(result, ExitCode.MODEL, str(path), "damaged model file")
    assert result.stdout == ""


def test_predict_says_when_a_keras_file_has_no_unsure_policy(tmp_path, images):
    path = tmp_path / "other.keras"
    crafted_keras(path)
    result = run("predict", images / "b_seven.png", "-m", path, "-f", "jsonl")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"digitcli: warning: {path}: has no calibration and no unsure policy (not exported by "
        "digitcli): every picture gets a digit, pictures of non-digits too"]


def test_an_exported_keras_file_predicts_exactly_like_its_npz(tmp_path, images):
    pytest.importorskip("tensorflow")
    from dataclasses import replace

    from digitcli.network import store
    from tests.test_rejection import network_with_policy

    npz, keras = tmp_path / "m.npz", tmp_path / "m.keras"
    store.save(replace(network_with_policy(), temperature=1.7), npz)
    noise = np.random.default_rng(7).integers(0, 256, (28, 28)).astype(np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    Image.fromarray(np.asarray(digit_image(7).resize((28, 28)))).save(tmp_path / "seven.png")
    assert run("export", npz, "--out", keras).exit_code == 0
    outputs = [run("predict", tmp_path / "noise.png", tmp_path / "seven.png", "-m", model,
                   "--preprocess", "none", "-f", "jsonl") for model in (npz, keras)]
    assert [r.exit_code for r in outputs] == [0, 0]
    assert "warning" not in outputs[1].stderr  # nothing missing, nothing to warn about
    assert records(outputs[0].stdout) == records(outputs[1].stdout)
    assert records(outputs[1].stdout)[0]["status"] == "unsure"  # the policy came along


def test_an_interrupt_wrapped_by_a_library_is_still_an_interrupt():
    """Ctrl-C during an import can reach us as a RuntimeError (class creation wraps it)."""
    from digitcli.shell import _interrupt_behind

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as inner:
            raise RuntimeError("Error calling __set_name__") from inner
    except RuntimeError as wrapped:
        assert isinstance(_interrupt_behind(wrapped), KeyboardInterrupt)
    assert _interrupt_behind(ValueError("plain")) is None
