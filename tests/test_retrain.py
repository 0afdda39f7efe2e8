"""Unattended retraining: reproducible, resumable, gated promotion, locks and the run record."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from digitcli.network import store

from digitcli.training import checkpoints, promotion
from digitcli.cli import app
from digitcli.errors import ExitCode
from tests.conftest import REPO

pytest.importorskip("tensorflow")
runner = CliRunner()


def dataset(path, n=300, seed=0):
    """A tiny learnable CSV: each digit lights up its own band of pixels, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 60, (n, 784))
    for row, label in zip(x, y):
        row[label * 78 : label * 78 + 78] = 255
    path.write_text("\n".join(",".join(map(str, [l, *r])) for l, r in zip(y, x)) + "\n")
    return path


def train(*args):
    return runner.invoke(app, ["train", "--hidden", "16,8", "--batch-size", "16", "--quiet",
                                "--learning-rate", "0.01",
                                *map(str, args)])


def weights(path):
    return [a for layer in store.load(path).layers for a in (layer.weights, layer.bias)]


def cli_process(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return [sys.executable, "-m", "digitcli", *map(str, args)], env


def test_deterministic_runs_give_byte_identical_weights(tmp_path):
    data = dataset(tmp_path / "d.csv")
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.npz"
        cmd, env = cli_process("train", "--data", data, "--hidden", "16,8", "--epochs", "3",
                               "--seed", "5", "--deterministic", "--augment", "--quiet",
                               "--out", out, "--run-dir", tmp_path / f"run-{name}")
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=tmp_path)
        outs.append(out)
    for a, b in zip(weights(outs[0]), weights(outs[1])):
        assert a.tobytes() == b.tobytes()
    meta = store.load(outs[0]).metadata
    assert meta["training"]["deterministic"] is True and meta["training"]["seed"] == 5
    assert meta["versions"]["tensorflow"] and meta["versions"]["numpy"]


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    data = dataset(tmp_path / "d.csv", n=3000)
    common = ["train", "--data", data, "--hidden", "64,32", "--epochs", "12", "--seed", "2",
              "--deterministic", "--batch-size", "16"]
    cmd, env = cli_process(*common, "--out", tmp_path / "whole.npz", "--run-dir", tmp_path / "whole")
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=tmp_path)

    run_dir = tmp_path / "killed"
    cmd, env = cli_process(*common, "--out", tmp_path / "resumed.npz", "--run-dir", run_dir)
    victim = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    for line in victim.stderr:
        if "epoch 3/12" in line:
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "resumed.npz").exists()  # nothing half-written at the target
    checkpoint_meta, _ = checkpoints.load(run_dir / "checkpoint.npz")
    assert 3 <= checkpoint_meta["epoch"] < 12

    cmd, env = cli_process(*common, "--out", tmp_path / "resumed.npz", "--run-dir", run_dir, "--resume")
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=tmp_path)
    assert f"resuming {run_dir} after epoch {checkpoint_meta['epoch']}" in done.stderr
    for a, b in zip(weights(tmp_path / "whole.npz"), weights(tmp_path / "resumed.npz")):
        assert a.tobytes() == b.tobytes()
    assert not (run_dir / "checkpoint.npz").exists()


def test_promotion_passes_then_fails_the_gate_then_rolls_back(tmp_path):
    data = dataset(tmp_path / "d.csv")
    target = tmp_path / "deploy" / "prod.npz"
    first = train("--data", data, "--epochs", "8", "--promote", target, "--fail-under", "0.5")
    assert first.exit_code == 0, first.output
    deployed = target.read_bytes()
    assert not list(target.parent.glob("*.candidate-*"))  # the candidate became the target

    failed = train("--data", data, "--epochs", "1", "--promote", target, "--fail-under", "0.99",
                   "--format", "json")
    assert failed.exit_code == ExitCode.NOT_PROMOTED, failed.output
    summary = json.loads(failed.stdout)
    assert summary["promoted"] is False and "below --fail-under" in summary["gate_failures"][0]
    assert target.read_bytes() == deployed
    (candidate,) = target.parent.glob("prod.candidate-*.npz")
    assert str(candidate) == summary["model"]
    assert "not promoted" in failed.stderr

    second = train("--data", data, "--epochs", "8", "--seed", "1", "--promote", target)
    assert second.exit_code == 0, second.output
    assert promotion.previous_path(target).read_bytes() == deployed
    newer = target.read_bytes()
    rolled = runner.invoke(app, ["rollback", str(target)])
    assert rolled.exit_code == 0, rolled.output
    assert target.read_bytes() == deployed and promotion.previous_path(target).read_bytes() == newer


def test_require_better_refuses_an_equal_model(tmp_path):
    data = dataset(tmp_path / "d.csv")
    target = tmp_path / "prod.npz"
    args = ["--data", data, "--epochs", "3", "--seed", "4", "--deterministic", "--promote", target]
    assert train(*args).exit_code == 0
    deployed = target.read_bytes()
    again = train(*args, "--require-better")
    assert again.exit_code == ExitCode.NOT_PROMOTED
    assert "not better than the deployed model" in again.stderr
    assert target.read_bytes() == deployed


def test_a_second_run_on_a_locked_target_stops_with_a_clear_message(tmp_path):
    data = dataset(tmp_path / "d.csv")
    target = tmp_path / "prod.npz"
    with promotion.locked(target):
        result = train("--data", data, "--epochs", "1", "--promote", target)
    assert result.exit_code == ExitCode.LOCKED
    assert "locked by another training run (pid" in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("crash_at", ["previous", "target"])
def test_a_crash_during_promotion_leaves_the_deployed_model_byte_identical(
    tmp_path, monkeypatch, crash_at
):
    data = dataset(tmp_path / "d.csv")
    target = tmp_path / "prod.npz"
    assert train("--data", data, "--epochs", "2", "--promote", target).exit_code == 0
    deployed = target.read_bytes()
    doomed = {"previous": promotion.previous_path(target), "target": target}[crash_at]
    real_replace = os.replace

    def replace_or_crash(src, dst):
        if os.fspath(dst) == os.fspath(doomed):
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_or_crash)
    result = train("--data", data, "--epochs", "2", "--seed", "9", "--promote", target)
    assert result.exit_code == ExitCode.OUTPUT  # a failed write names the file, not a bug
    assert target.read_bytes() == deployed
    assert len(list(tmp_path.glob("prod.candidate-*.npz"))) == 1  # the candidate is kept
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written temporary files


def test_fail_under_needs_promote():
    result = runner.invoke(app, ["train", "--fail-under", "0.9"])
    assert result.exit_code == ExitCode.USAGE and "--promote" in result.stderr


def test_the_run_record_holds_figures_history_and_pictures(tmp_path):
    data = dataset(tmp_path / "d.csv")
    run_dir = tmp_path / "record"
    result = train("--data", data, "--data", dataset(tmp_path / "more.csv", n=100, seed=1),
                   "--epochs", "3", "--validation-split", "0.2", "--run-dir", run_dir,
                   "--out", tmp_path / "m.npz")
    assert result.exit_code == 0, result.output
    names = {p.name for p in run_dir.iterdir()}
    assert names >= {"command.txt", "settings.json", "metrics.json", "history.csv", "confusion.csv",
                     "training_curves.png", "confusion.png", "mistakes.png"}
    assert "checkpoint.npz" not in names
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["count"] == 30 + 10  # 10% of each single-split source is held out
    history = list(csv.DictReader(open(run_dir / "history.csv")))
    assert [row["epoch"] for row in history] == ["1", "2", "3"] and "val_loss" in history[0]
    confusion = list(csv.reader(open(run_dir / "confusion.csv")))
    assert len(confusion) == 11 and sum(int(v) for row in confusion[1:] for v in row[1:]) == 40
    for picture in ("training_curves.png", "confusion.png", "mistakes.png"):
        with Image.open(run_dir / picture) as image:
            assert image.format == "PNG" and image.size[0] > 100
            image.verify()
    assert json.loads((run_dir / "settings.json").read_text())["data"][1].startswith("CSV file")


def test_init_from_fine_tunes_an_existing_model(tmp_path):
    data = dataset(tmp_path / "d.csv")
    base = tmp_path / "base.npz"
    assert train("--data", data, "--epochs", "4", "--out", base).exit_code == 0
    tuned = tmp_path / "tuned.npz"
    result = train("--data", data, "--epochs", "1", "--hidden", "32,32", "--init-from", base,
                   "--out", tuned, "--learning-rate", "0.0001")
    assert result.exit_code == 0, result.output
    before, after = store.load(base), store.load(tuned)
    assert after.hidden == before.hidden == (16, 8)  # the model's own shape wins over --hidden
    assert after.metadata["init_from"] == str(base)
    drift = max(float(np.abs(a.weights - b.weights).max()) for a, b in zip(before.layers, after.layers))
    assert 0 < drift < 0.05  # started from the base weights, then moved a little


def test_patience_stops_early_and_keeps_the_best_epoch(tmp_path):
    data = dataset(tmp_path / "d.csv", n=400)
    out = tmp_path / "m.npz"
    result = train("--data", data, "--epochs", "40", "--validation-split", "0.3", "--patience", "2",
                   "--learning-rate", "0.05", "--out", out, "--format", "json")
    assert result.exit_code == 0, result.output
    history = store.load(out).metadata["history"]
    assert len(history) < 40
    losses = [entry["val_loss"] for entry in history]
    best = losses.index(min(losses))
    assert len(history) == best + 1 + 2  # stopped two epochs after the best one
    assert json.loads(result.stdout)["epochs_run"] == len(history)
    # The saved weights are the best epoch's: their loss on the same validation split matches it.
    from digitcli.network.infer import cross_entropy
    from digitcli.training.trainer import _validation_split, load_sets

    (x, y), _, _ = load_sets((str(data),), seed=0)
    _, (x_val, y_val) = _validation_split(x, y, 0.3, seed=0)
    network = store.load(out)
    assert cross_entropy(network.logits(x_val), y_val) == pytest.approx(losses[best], rel=1e-3)
