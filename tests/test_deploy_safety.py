"""Deploying and rolling back never loses a model: kills at every step, full disks, FIFOs, races."""

from __future__ import annotations

import errno
import io
import os
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from digitcli.network import store

from digitcli.training import promotion, trainer
from digitcli.cli import app
from digitcli.errors import ExitCode
from tests.conftest import random_network
from tests.test_cli import one_line_error
from tests.test_retrain import cli_process, dataset, train

runner = CliRunner()
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def rollback(target):
    return runner.invoke(app, ["rollback", str(target)])


def deployed_pair(folder):
    """A deployed model and the previous one, as `train --promote` leaves them."""
    target = folder / "prod.npz"
    store.save(random_network(hidden=(4,), seed=1), target)
    store.save(random_network(hidden=(4,), seed=2), promotion.previous_path(target))
    return target, target.read_bytes(), promotion.previous_path(target).read_bytes()


def hidden_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------- rollback


@pytest.fixture
def count_replaces(monkeypatch):
    """os.replace that raises at its k-th call (set `.crash_at`), counting calls."""
    real = os.replace

    class Counter:
        calls = 0
        crash_at = None

        def __call__(self, src, dst):
            self.calls += 1
            if self.calls == self.crash_at:
                raise OSError(errno.EIO, "killed here")
            return real(src, dst)

    counter = Counter()
    monkeypatch.setattr(os, "replace", counter)
    return counter


def test_a_clean_rollback_swaps_with_three_renames(tmp_path, count_replaces):
    target, deployed, previous = deployed_pair(tmp_path)
    count_replaces.calls = 0
    assert rollback(target).exit_code == 0
    assert count_replaces.calls == 3  # stage a copy of PATH, previous → PATH, copy → previous
    assert target.read_bytes() == previous and promotion.previous_path(target).read_bytes() == deployed


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_rollback_killed_at_any_rename_keeps_path_whole_and_a_rerun_finishes_it(
    tmp_path, count_replaces, crash_at
):
    target, deployed, previous = deployed_pair(tmp_path)
    count_replaces.calls, count_replaces.crash_at = 0, crash_at
    assert rollback(target).exit_code != 0
    store.load(target)  # PATH holds a complete model at every step
    assert target.read_bytes() in (deployed, previous)
    # A SIGKILL also leaves atomic_write's temporary file, which the exception above removed.
    (tmp_path / "..prod.npz.rollback.k1ll3d00.tmp").write_bytes(b"half a model")

    count_replaces.crash_at = None
    rerun = rollback(target)
    assert rerun.exit_code == 0, rerun.output
    assert target.read_bytes() == previous  # one rollback, not two
    assert promotion.previous_path(target).read_bytes() == deployed
    assert hidden_files(tmp_path) == []  # no staged copy, no temporary file
    assert rollback(target).exit_code == 0  # and rolling forward again still works
    assert target.read_bytes() == deployed


def test_a_killed_rollback_is_finished_by_the_next_promotion(tmp_path, count_replaces):
    target, deployed, previous = deployed_pair(tmp_path)
    count_replaces.calls, count_replaces.crash_at = 0, 3  # previous → PATH done, not the copy
    assert rollback(target).exit_code != 0
    count_replaces.crash_at = None
    result = train("--data", dataset(tmp_path / "d.csv"), "--epochs", "1", "--promote", target,
                   "--run-dir", tmp_path / "run")
    assert result.exit_code == 0, result.output
    # As if the rollback had finished before the promotion: the rolled-back model is previous.
    assert promotion.previous_path(target).read_bytes() == previous
    assert target.read_bytes() not in (deployed, previous)
    assert hidden_files(tmp_path) == []


def test_stale_temporary_files_of_the_target_are_removed_and_no_others(tmp_path):
    target, deployed, previous = deployed_pair(tmp_path)
    stale = [".prod.npz.a1b2c3d4.tmp",
             ".prod.previous.npz.zz99yy88.tmp", ".prod.candidate-20260101T000000Z.npz.q1w2e3r4.tmp",
             "..prod.npz.rollback.m0n1b2v3.tmp"]
    kept = [".other.npz.a1b2c3d4.tmp", ".prod.npz.notes.tmp", "prod.candidate-20260101T000000Z.npz"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    assert rollback(target).exit_code == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & set(stale)
    assert names >= set(kept)


@pytest.mark.parametrize("fifo_at", ["previous", "target"])
def test_a_fifo_in_a_rollback_is_a_one_line_error_not_a_hang(tmp_path, fifo_at):
    target, deployed, previous = deployed_pair(tmp_path)
    fifo = {"previous": promotion.previous_path(target), "target": target}[fifo_at]
    fifo.unlink()
    os.mkfifo(fifo)
    cmd, env = cli_process("rollback", target)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitCode.MODEL, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"digitcli: error: {fifo}: is a named pipe (FIFO), not a regular file"
        + ("; cannot roll back to it" if fifo_at == "previous" else "")]
    kept = target if fifo_at == "previous" else promotion.previous_path(target)
    assert kept.read_bytes() == (deployed if fifo_at == "previous" else previous)


# ---------------------------------------------------------------------------- a full disk


@pytest.fixture
def full_disk(tmp_path):
    """A small tmpfs: mount it, let the test put files on it, then `fill()` it up."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the monkeypatched ENOSPC tests still run")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def fill(leave_pages=0):
        """Fill the file system with 4 KB files, then free `leave_pages` of them."""
        fillers = []
        try:
            while True:
                fillers.append(mount / f"filler{len(fillers)}")
                fillers[-1].write_bytes(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        for filler in fillers[-1 - leave_pages:]:
            filler.unlink()

    try:
        yield mount, fill
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_rollback_on_a_full_disk_names_the_file_and_loses_nothing(full_disk):
    mount, fill = full_disk
    target, deployed, previous = deployed_pair(mount)
    fill()
    result = rollback(target)
    one_line_error(result, ExitCode.OUTPUT, f"cannot write {mount}/.prod.npz.rollback",
                   "No space left on device; free some space and run again")
    assert target.read_bytes() == deployed
    assert promotion.previous_path(target).read_bytes() == previous
    assert hidden_files(mount) == []


def test_export_to_a_full_disk_names_the_file(tmp_path, full_disk, tiny_model):
    mount, fill = full_disk
    out = mount / "m.keras"
    out.write_bytes(b"an older export")
    fill()
    result = runner.invoke(app, ["export", str(tiny_model), "--out", str(out)])
    one_line_error(result, ExitCode.OUTPUT, f"cannot write {out}", "No space left on device")
    assert out.read_bytes() == b"an older export"


def test_training_onto_a_full_disk_names_the_model_file_and_keeps_the_old_one(tmp_path, full_disk):
    mount, fill = full_disk
    out = mount / "m.npz"
    store.save(random_network(hidden=(4,)), out)
    before = out.read_bytes()
    fill()
    result = train("--data", dataset(tmp_path / "d.csv"), "--epochs", "1", "--out", out,
                   "--run-dir", tmp_path / "run")
    one_line_error(result, ExitCode.OUTPUT, f"cannot write {out}", "No space left on device")
    assert out.read_bytes() == before


def test_a_run_folder_on_a_full_disk_names_the_checkpoint(tmp_path, full_disk):
    mount, fill = full_disk
    fill(leave_pages=5)  # room for the lock, command.txt and settings.json, not a checkpoint
    run_dir = mount / "run"
    result = train("--data", dataset(tmp_path / "d.csv"), "--epochs", "1",
                   "--out", tmp_path / "m.npz", "--run-dir", run_dir)
    one_line_error(result, ExitCode.OUTPUT, f"cannot write {run_dir}/checkpoint.npz",
                   "No space left on device")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("fails", ["previous", "target", "record"])
def test_a_full_disk_while_promoting_names_the_file_and_keeps_the_deployed_model(
    tmp_path, monkeypatch, fails
):
    target = tmp_path / "prod.npz"
    store.save(random_network(hidden=(4,)), target)
    deployed = target.read_bytes()
    doomed = {"previous": promotion.previous_path(target), "target": target}.get(fails)
    real_replace = os.replace

    def replace(src, dst):
        if doomed is not None and os.fspath(dst) == os.fspath(doomed):
            raise ENOSPC
        return real_replace(src, dst)

    def no_room(*args):
        raise ENOSPC

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(trainer.runrecord, "plot_mistakes", no_room)
    run_dir = tmp_path / "run"
    result = train("--data", dataset(tmp_path / "d.csv"), "--epochs", "1", "--promote", target,
                   "--run-dir", run_dir)
    named = doomed or run_dir / "mistakes.png"
    one_line_error(result, ExitCode.OUTPUT, "cannot write", f"{named}: No space left on device")
    if fails == "record":  # promoted before the record was written: rollback still has the old one
        assert promotion.previous_path(target).read_bytes() == deployed
    else:
        assert target.read_bytes() == deployed


# ---------------------------------------------------------------------------- FIFOs


@pytest.mark.parametrize("fifo_at, code", [("out", ExitCode.USAGE), ("promote", ExitCode.USAGE),
                                           ("previous", ExitCode.USAGE), ("init", ExitCode.MODEL)])
def test_a_fifo_given_to_train_is_a_one_line_error_not_a_hang(tmp_path, fifo_at, code):
    fifo = tmp_path / {"out": "m.npz", "promote": "prod.npz", "previous": "prod.previous.npz",
                       "init": "base.npz"}[fifo_at]
    os.mkfifo(fifo)
    where = {"out": ["--out", fifo], "promote": ["--promote", fifo],
             "previous": ["--promote", tmp_path / "prod.npz"],
             "init": ["--init-from", fifo, "--out", tmp_path / "m.npz"]}[fifo_at]
    cmd, env = cli_process("train", "--data", dataset(tmp_path / "d.csv"), "--epochs", "1",
                           "--quiet", *where)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"digitcli: error: {fifo}: is a named pipe (FIFO), not a regular file")
    assert not (tmp_path / "runs").exists()  # refused before any training


# ---------------------------------------------------------------------------- run folders


@pytest.fixture
def one_second(monkeypatch, tmp_path):
    """Every clock reading in trainer.py gives the same second; runs/ under tmp_path."""
    frozen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen

    monkeypatch.setattr(trainer, "datetime", Frozen)
    monkeypatch.setattr(trainer, "RUNS", tmp_path / "runs")
    return tmp_path / "runs"


def test_run_folders_made_in_the_same_second_are_different_and_new(one_second):
    first, second = trainer.new_run_dir(), trainer.new_run_dir()
    assert first != second
    assert first.is_dir() and second.is_dir()  # made, so a third run cannot pick them again
    (one_second / "20260102T030405Z-3").mkdir()
    (one_second / "20260102T030405Z-3" / "metrics.json").write_text("{}")
    third = trainer.new_run_dir()
    assert third.name == "20260102T030405Z-4" and not any(third.iterdir())


def test_a_run_folder_in_use_is_locked(tmp_path):
    run_dir = tmp_path / "run"
    with promotion.locked(run_dir / trainer.CHECKPOINT):
        result = train("--data", dataset(tmp_path / "d.csv"), "--epochs", "1", "--run-dir", run_dir,
                       "--out", tmp_path / "m.npz")
    one_line_error(result, ExitCode.LOCKED, f"{run_dir}/checkpoint.npz: locked by another")
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------------------- resuming


@contextmanager
def killed_after(monkeypatch, module, name):
    """Let `module.name` run, then stop the process as a SIGKILL would (nothing tidied after)."""
    real = getattr(module, name)

    def run_then_die(*args, **kwargs):
        real(*args, **kwargs)
        raise SystemExit(-9)

    monkeypatch.setattr(module, name, run_then_die)
    yield
    monkeypatch.setattr(module, name, real)


@pytest.mark.parametrize("kill_after", ["promote", "write_history"])
def test_resuming_a_run_killed_after_its_promotion_never_deploys_again(
    tmp_path, monkeypatch, kill_after
):
    target = tmp_path / "prod.npz"
    store.save(random_network(hidden=(4,)), target)
    original = target.read_bytes()
    data = dataset(tmp_path / "d.csv")
    args = ["--data", data, "--epochs", "2", "--seed", "3", "--promote", target]
    # Right after the rename (before it is recorded), or while writing the run record.
    module = {"promote": promotion, "write_history": trainer.runrecord}[kill_after]
    with killed_after(monkeypatch, module, kill_after):
        assert train(*args).exit_code == -9
    (run_dir,) = trainer.RUNS.glob("*")
    assert (run_dir / "checkpoint.npz").exists()  # killed before it was removed
    promoted = target.read_bytes()
    assert promoted != original and promotion.previous_path(target).read_bytes() == original
    strays = [run_dir / ".checkpoint.npz.x1y2z3w4.tmp", run_dir / ".promotion.json.x1y2z3w4.tmp"]
    for stray in strays:
        stray.write_bytes(b"half a file")

    resumed = train(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f"nothing to resume: the newest matching run {run_dir} finished (promoted) at" in resumed.stderr
    assert not any(stray.exists() for stray in strays)  # a killed run's temporary files
    assert target.read_bytes() == promoted  # not trained or deployed again
    assert promotion.previous_path(target).read_bytes() == original
    assert not (run_dir / "checkpoint.npz").exists()
    assert rollback(target).exit_code == 0 and target.read_bytes() == original


def test_resuming_a_run_killed_before_its_promotion_deploys_it_once(tmp_path, monkeypatch):
    target = tmp_path / "prod.npz"
    store.save(random_network(hidden=(4,)), target)
    original = target.read_bytes()
    args = ["--data", dataset(tmp_path / "d.csv"), "--epochs", "2", "--promote", target]

    def killed(candidate, target):
        raise SystemExit(-9)

    with monkeypatch.context() as patch:
        patch.setattr(promotion, "promote", killed)
        assert train(*args).exit_code == -9
    assert target.read_bytes() == original
    (run_dir,) = trainer.RUNS.glob("*")
    stray = run_dir / ".checkpoint.npz.x1y2z3w4.tmp"
    stray.write_bytes(b"half a checkpoint")
    resumed = train(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.stderr and "after epoch 2" in resumed.stderr
    assert target.read_bytes() != original
    assert promotion.previous_path(target).read_bytes() == original
    assert not stray.exists() and not (run_dir / "checkpoint.npz").exists()


# ---------------------------------------------------------------------------- progress


@pytest.mark.parametrize("epochs, seconds, logs", [
    (100, 3600, {"loss": 0.0438, "accuracy": 0.9865, "val_loss": 0.0412, "val_accuracy": 0.988}),
    (30, 54, {"loss": 2.3026, "accuracy": 0.1, "val_loss": 2.3026, "val_accuracy": 0.1}),
    (30, 54, {"loss": 0.0438, "accuracy": 0.9865}),
])
def test_the_progress_line_reads_whole_at_80_columns(epochs, seconds, logs):
    from rich.console import Console
    from rich.progress import Progress

    from digitcli.output import progress as reporting

    assert reporting.epoch_line(3, 30, {"loss": 0.0438, "accuracy": 0.9865, "val_loss": 0.0412,
                                    "val_accuracy": 0.988}, 54) == (
        "epoch 3/30 loss 0.0438 acc 98.65% val 0.0412/98.80% 54s")
    line = reporting.epoch_line(epochs, epochs, logs, seconds)
    assert len("2026-11-26T07:19:20 " + line) <= 80  # the plain, timestamped line of cron logs
    screen = io.StringIO()
    console = Console(file=screen, width=80, force_terminal=True, color_system=None)
    progress = Progress(*reporting.progress_columns(), console=console)
    task = progress.add_task("train", total=epochs, status=line)
    progress.update(task, completed=epochs - 1)
    console.print(progress.make_tasks_table(progress.tasks))
    rendered = screen.getvalue().splitlines()
    assert len(rendered) == 1 and line in rendered[0], rendered
    assert len(rendered[0].rstrip()) <= 80
