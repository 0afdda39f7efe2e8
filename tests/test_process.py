"""digitcli as a Unix process: closed pipes, signals, a full disk, workers that end with it.

Real subprocesses, each bounded by a timeout so that no test can hang the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from digitcli.errors import ExitCode
from tests.conftest import digit_image
from tests.test_cli import _csv_dataset

TIMEOUT = 60  # seconds: far more than any of these runs needs


def start(*args, unbuffered: bool = False, **options) -> subprocess.Popen:
    """`digitcli ARGS` in a child process of its own group, with pipes for stdout and stderr.

    Buffered stdout is what users get; PYTHONUNBUFFERED (often set in CI) writes each record at
    once. A watchdog kills the whole group after TIMEOUT, so no read of its pipes can hang.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    options.setdefault("stdout", subprocess.PIPE)
    # A runner that started us with SIGINT ignored must not pass that on: Python would keep it.
    process = subprocess.Popen([sys.executable, "-m", "digitcli", *map(str, args)], env=env,
                               stderr=subprocess.PIPE, bufsize=0, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                               **options)
    process.watchdog = threading.Timer(TIMEOUT, _kill_group, (process.pid,))
    process.watchdog.daemon = True
    process.watchdog.start()
    return process


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finish(process: subprocess.Popen) -> tuple[bytes, str]:
    """Wait for the child (the watchdog ends an overrun); the rest of its stdout, and its stderr."""
    try:
        out = process.stdout.read() if process.stdout else b""
        err = process.stderr.read().decode()
        process.wait(timeout=TIMEOUT)
    finally:
        process.watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return out, err


@pytest.fixture
def many(tmp_path) -> Path:
    """256 pictures (4 chunks): enough to still be working after the first record is out."""
    folder = tmp_path / "many"
    folder.mkdir()
    digit_image(7).save(folder / "00000.png")
    for i in range(1, 256):
        os.link(folder / "00000.png", folder / f"{i:05d}.png")
    return folder


def _wait_for(process: subprocess.Popen, marker: bytes) -> bytes:
    """Read stdout until `marker` has appeared (the child is under way)."""
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    while marker not in seen:
        chunk = process.stdout.read(1)
        if not chunk or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {marker!r} in the output: {seen[-200:]!r}")
        seen += chunk
    return seen


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that does not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


# ---------------------------------------------------------------------------- closed pipes


@pytest.fixture
def case(tmp_path, tiny_model):
    """Arguments for each kind of output, by name."""
    image = tmp_path / "7.png"
    digit_image(7).save(image)
    data = _csv_dataset(tmp_path / "d.csv", n=20)
    return {
        "inspect": ["inspect", tiny_model],
        "inspect --format json": ["inspect", tiny_model, "--format", "json"],
        "inspect --image": ["inspect", tiny_model, "--image", image],
        "evaluate": ["evaluate", "-m", tiny_model, "--data", data],
        "evaluate --format json": ["evaluate", "-m", tiny_model, "--data", data, "-f", "json"],
        "predict --format json": ["predict", image, "-m", tiny_model, "-f", "json"],
        "--help": ["--help"],
        "predict --help": ["predict", "--help"],
        "train --help": ["train", "--help"],
        "--version": ["--version"],
    }


@pytest.mark.parametrize("name,unbuffered", [
    ("inspect", False), ("inspect --format json", False), ("inspect --image", False),
    ("evaluate", False), ("evaluate --format json", False), ("evaluate --format json", True),
    ("predict --format json", False), ("--help", False), ("--help", True),
    ("predict --help", False), ("train --help", False), ("--version", False),
])
def test_a_pipe_closed_before_any_output_ends_quietly(case, name, unbuffered):
    """`digitcli … | head` where head has gone before the first write."""
    process = start(*case[name], unbuffered=unbuffered)
    process.stdout.close()  # no reader left: the child's first write fails with EPIPE
    process.stdout = None
    _, err = finish(process)
    assert (process.returncode, err) == (0, "")


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_reader_that_stops_after_one_line_ends_predict_quietly(many, tiny_model, unbuffered):
    """`digitcli predict DIR --format jsonl | head -1`, with more output than a pipe holds."""
    process = start("predict", many, "-m", tiny_model, "-f", "jsonl", "--workers", "1",
                    unbuffered=unbuffered)
    assert json.loads(_wait_for(process, b"\n"))["status"] == "ok"
    process.stdout.close()
    process.stdout = None
    _, err = finish(process)
    assert (process.returncode, err) == (0, "")


# ---------------------------------------------------------------------------- a full disk


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("name", ["predict --format json", "evaluate --format json", "evaluate",
                                  "--help", "train --help", "inspect"])
def test_a_full_disk_on_stdout_is_an_output_error(case, name):
    with open("/dev/full", "w") as full:
        process = start(*case[name], stdout=full)
        _, err = finish(process)
    assert process.returncode == ExitCode.OUTPUT
    assert err.splitlines() == ["digitcli: error: cannot write standard output: No space left on "
                                "device; free some space and run again"]


# ---------------------------------------------------------------------------- signals


STOPPED = {signal.SIGINT: (ExitCode.INTERRUPTED, "digitcli: error: interrupted\n"),
           signal.SIGTERM: (ExitCode.TERMINATED, "digitcli: error: terminated (SIGTERM)\n")}


@pytest.mark.parametrize("signum,workers,unbuffered", [
    (signal.SIGINT, 1, False), (signal.SIGINT, 2, True),
    (signal.SIGTERM, 1, True), (signal.SIGTERM, 2, False),
])
def test_a_stopped_predict_says_so_and_leaves_valid_json(many, tiny_model, signum, workers,
                                                        unbuffered):
    """Ctrl-C or SIGTERM after the first record: the array is closed, the workers are gone."""
    process = start("predict", many, "-m", tiny_model, "-f", "json", "--workers", workers,
                    unbuffered=unbuffered)
    head = _wait_for(process, b"{")  # the first record is on its way
    children = _children(process.pid)
    process.send_signal(signum)
    out, err = finish(process)
    assert (process.returncode, err) == STOPPED[signum]
    records = json.loads(head + out)
    assert 0 < len(records) < 256 and all(r["status"] == "ok" for r in records)
    left = _gone_within(children, 5)
    _kill_group(process.pid)
    assert left == []


def _wait_for_module(process: subprocess.Popen, library: str) -> None:
    """Wait until the child has loaded `library` (a shared object): it is past its start-up."""
    deadline = time.monotonic() + TIMEOUT
    while library not in Path(f"/proc/{process.pid}/maps").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the child never loaded {library}")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_evaluate_says_so(tmp_path, tiny_model, signum):
    """Stopped while it reads a folder dataset of 2,000 pictures."""
    folder = tmp_path / "set" / "7"
    folder.mkdir(parents=True)
    digit_image(7).save(folder / "0000.png")
    for i in range(1, 2000):
        os.link(folder / "0000.png", folder / f"{i:04d}.png")
    process = start("evaluate", "-m", tiny_model, "--data", folder.parent)
    _wait_for_module(process, "PIL/_imaging")  # Pillow: imported to read the first picture
    process.send_signal(signum)
    out, err = finish(process)
    assert (process.returncode, err, out) == (*STOPPED[signum], b"")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_train_says_so(tmp_path, signum):
    """Stopped after its first epoch (TensorFlow's threads are running)."""
    data = _csv_dataset(tmp_path / "d.csv", n=200)
    process = start("train", "--data", data, "--epochs", "1000", "--hidden", "8,4",
                    "--out", tmp_path / "m.npz", "--run-dir", tmp_path / "run")
    seen = b""
    while b"epoch 1/" not in seen:
        chunk = process.stderr.read(1)
        if not chunk:
            pytest.fail(f"train ended before its first epoch: {finish(process)}")
        seen += chunk
    process.send_signal(signum)
    out, err = finish(process)
    code, message = STOPPED[signum]
    assert process.returncode == code
    assert (seen.decode() + err).splitlines()[-1] + "\n" == message
    assert err.count("digitcli: error:") == 1 and "Traceback" not in err
    assert not (tmp_path / "m.npz").exists()  # stopped before the end: nothing half-written


def test_workers_end_when_their_parent_is_killed(many, tiny_model):
    process = start("predict", many, "-m", tiny_model, "-f", "jsonl", "--workers", "2")
    deadline = time.monotonic() + TIMEOUT
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(process.pid)
    process.kill()  # SIGKILL: no clean-up of its own can run
    process.wait(timeout=TIMEOUT)
    left = _gone_within(workers, 5)
    _kill_group(process.pid)
    finish(process)
    assert len(workers) == 2 and left == []
