"""A seeded fault campaign against the installed digitcli: kills, signals, bad files, a full disk.

Not part of the test suite. Every case runs `python -m digitcli …` from this Python's environment
as a new process in a temporary folder (HOME and TMPDIR point there too; the repository's
`models/` is never written), does something unkind to it, and checks what a user would check
afterwards. A case *holds* or *fails* with a one-line reason; a model or record that existed before
a case and is gone or changed afterwards counts as *lost*. The same --seed gives the same cases,
kill times and crash points (what a killed process had done by then still depends on the
machine). Run:

    python bench/faults.py --quick                 # a few cases per category, about 3 minutes
    python bench/faults.py --seed 1 --out FAULTS.md
    python bench/faults.py --only models --only images

Exit code 0 when every case held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DIGITCLI = [sys.executable, "-m", "digitcli"]
TRAIN = ["train", "--epochs", "3", "--hidden", "16,8", "--seed", "0", "--quiet"]
MEMORY = 2 << 30  # address-space limit for processes that never import TensorFlow
MODEL_SECONDS = 10  # a refused model file must be refused this fast
PEAK = 400 << 20  # ... and within this much memory (predicting one picture takes about 45 MB)
BATCH_SECONDS = 20
DATA_SECONDS = 30
TRAIN_SECONDS = 240
CATEGORIES = {
    "kill-train": "SIGKILL of `train --promote`, then `--resume`",
    "kill-rollback": "SIGKILL of `rollback`, then a second `rollback`",
    "signals": "SIGINT / SIGTERM of `predict --workers 2`",
    "models": "crafted model files (`predict --model X`)",
    "images": "bad pictures in a batch (`predict DIR`)",
    "datasets": "bad datasets (`evaluate --data X`, `train --data X`)",
    "full-disk": "a full file system (tmpfs) and /dev/full",
    "pipes": "a closed stdout (piped into `head`)",
}


# ---------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    status: str  # "held", "failed" or "skipped"
    reason: str = ""
    lost: bool = False


def held(note: str = "") -> Outcome:
    return Outcome("held", note)


def failed(reason: str, lost: bool = False) -> Outcome:
    return Outcome("failed", reason, lost)


def skipped(reason: str) -> Outcome:
    return Outcome("skipped", reason)


@dataclass
class Case:
    category: str
    name: str
    check: Callable[[], Outcome]


@dataclass
class Finished:
    category: str
    name: str
    outcome: Outcome
    seconds: float


# ---------------------------------------------------------------------------- processes


@dataclass
class Ran:
    rc: int | None  # None: it did not end within the time limit (it was then killed)
    out: bytes
    err: bytes
    seconds: float
    peak: int = 0  # peak resident memory in bytes (0: not measured)

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.decode(errors="replace").splitlines() if line.strip()]

    def describe(self) -> str:
        """Exit code and the last stderr line, for a failure reason."""
        code = "no exit (hung, killed)" if self.rc is None else f"exit {self.rc}"
        last = self.err_lines[-1][:160] if self.err_lines else "nothing on stderr"
        return f"{code}, {last!r}"


# Installed in the digitcli process by --hook: counts the file-system changes it makes under
# FAULTS_ROOT, logs them (FAULTS_TRACE), SIGKILLs itself just before the N-th (FAULTS_CRASH_AT) and
# makes each one slow (FAULTS_DELAY seconds), like a slow disk. Only the main process counts.
HOOK = r'''
import builtins, io, os, runpy, signal, sys, time
_root = os.environ.pop("FAULTS_ROOT", "")
_trace = os.environ.pop("FAULTS_TRACE", "")
_crash = int(os.environ.pop("FAULTS_CRASH_AT", "0") or 0)
_delay = float(os.environ.pop("FAULTS_DELAY", "0") or 0)
_main = os.getpid()
_count = 0
_log = builtins.open(_trace, "a", buffering=1) if _trace else None
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _event(op, path):
    global _count
    if os.getpid() != _main or not _root or isinstance(path, int):
        return
    full = os.path.abspath(os.fsdecode(path))
    if full != _root and not full.startswith(_root + os.sep):
        return
    _count += 1
    if _log:
        _log.write(f"{_count}\t{op}\t{os.path.relpath(full, _root)}\n")
    if _count == _crash:
        os.kill(_main, signal.SIGKILL)
    if _delay:
        time.sleep(_delay)


def _on_target(name):
    real = getattr(os, name)
    def wrapper(src, dst, *args, **kwargs):
        _event(name, dst)
        return real(src, dst, *args, **kwargs)
    setattr(os, name, wrapper)


def _on_path(name):
    real = getattr(os, name)
    def wrapper(path, *args, **kwargs):
        _event(name, path)
        return real(path, *args, **kwargs)
    setattr(os, name, wrapper)


for _name in ("replace", "rename"):
    _on_target(_name)
for _name in ("unlink", "remove", "rmdir", "mkdir"):
    _on_path(_name)
_real_os_open = os.open


def _os_open(path, flags, *args, **kwargs):
    if flags & _WRITES:
        _event("open", path)
    return _real_os_open(path, flags, *args, **kwargs)


os.open = _os_open
_real_open = io.open


def _open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+"):
        _event("open", file)
    return _real_open(file, mode, *args, **kwargs)


io.open = builtins.open = _open
sys.argv = ["digitcli", *sys.argv[1:]]
runpy.run_module("digitcli", run_name="__main__", alter_sys=True)
'''


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


class Runner:
    """Starts digitcli processes with a clean environment, a time limit and optional hooks."""

    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"
        self.tmp = root / "tmp"
        for folder in (self.home, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.hook = root / "faults_hook.py"
        self.hook.write_text(HOOK)
        self.started = 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITCLI_", "FAULTS_"))}
        self.env.update(HOME=str(self.home), TMPDIR=str(self.tmp), TF_CPP_MIN_LOG_LEVEL="3",
                        PYTHONDONTWRITEBYTECODE="1")

    def command(self, args: list[str], hook: dict | None) -> list[str]:
        return ([sys.executable, str(self.hook)] if hook is not None else DIGITCLI) + list(args)

    def environment(self, hook: dict | None, env: dict | None) -> dict:
        merged = dict(self.env)
        for key, value in (hook or {}).items():
            merged[f"FAULTS_{key.upper()}"] = str(value)
        merged.update(env or {})
        return merged

    def start(self, args: list[str], *, cwd: Path, hook: dict | None = None, env: dict | None = None,
              memory: bool = False, stdout=None) -> subprocess.Popen:
        """Start digitcli in its own session; stdout and stderr go to files unless `stdout` is given."""
        self.started += 1
        out_path, err_path = self.tmp / f"{self.started}.out", self.tmp / f"{self.started}.err"
        with open(err_path, "wb") as err, open(out_path, "wb") as out:
            process = subprocess.Popen(
                self.command(args, hook), cwd=cwd, env=self.environment(hook, env),
                stdin=subprocess.DEVNULL, stdout=out if stdout is None else stdout, stderr=err,
                start_new_session=True, preexec_fn=_limit_memory if memory else None)
        process.files = (out_path, err_path)
        return process

    def run(self, args: list[str], *, cwd: Path, timeout: float, hook: dict | None = None,
            env: dict | None = None, memory: bool = False, stdout=None) -> Ran:
        started = time.perf_counter()
        process = self.start(args, cwd=cwd, hook=hook, env=env, memory=memory, stdout=stdout)
        return finish(process, timeout, started)


def over_peak(ran: Ran, what: str = "") -> str | None:
    """Why a run that should have stayed small did not (for the cases that never train)."""
    if ran.peak > PEAK:
        return f"{what}peak memory {ran.peak / 1e6:.0f} MB (limit {PEAK / 1e6:.0f} MB), {ran.seconds:.1f} s"
    return None


def finish(process: subprocess.Popen, timeout: float, started: float) -> Ran:
    """Wait for `process` (with os.wait4, for its peak memory); past `timeout`, kill its process
    group (it is ours) and say so."""
    deadline, rc, peak = started + timeout, None, 0
    while process.returncode is None:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            rc = process.returncode = os.waitstatus_to_exitcode(status)
            peak = usage.ru_maxrss * 1024  # the largest of it and the children it waited for
            break
        if time.perf_counter() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            break
        time.sleep(0.005)
    else:
        rc = process.returncode  # already reaped by a poll()
    out_path, err_path = process.files
    out, err = out_path.read_bytes(), err_path.read_bytes()
    out_path.unlink()
    err_path.unlink()
    return Ran(rc, out, err, time.perf_counter() - started, peak)


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of `pid`: {pid: start time} (to tell a reused pid apart)."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _proc_stat(int(entry))) is not None:
            parents[int(entry)] = (info[1], info[2])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, start) in parents.items():
            if ppid == parent and child not in found:
                found[child] = start
                frontier.append(child)
    return found


def still_alive(processes: dict[int, int]) -> list[int]:
    alive = []
    for pid, start in processes.items():
        info = _proc_stat(pid)
        if info is not None and info[2] == start and info[0] not in "ZX":
            alive.append(pid)
    return alive


# ---------------------------------------------------------------------------- data and files


def crc32_zeros(crc: int, count: int) -> int:
    """zlib.crc32(bytes(count), crc) without touching `count` bytes (GF(2) matrix powers)."""
    def times(matrix, vector):
        total, i = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[i]
            vector >>= 1
            i += 1
        return total

    def square(matrix):
        return [times(matrix, column) for column in matrix]

    register = crc ^ 0xFFFFFFFF
    operator = [0xEDB88320] + [1 << i for i in range(31)]  # one zero bit
    for _ in range(3):
        operator = square(operator)  # one zero byte
    while count:
        if count & 1:
            register = times(operator, register)
        count >>= 1
        if count:
            operator = square(operator)
    return register ^ 0xFFFFFFFF


def deflate_zeros(prefix: bytes, count: int) -> bytes:
    """A raw deflate stream of `prefix` followed by `count` zero bytes, built in milliseconds.

    After a full flush the compressor starts afresh, so every 1 MiB block of zeros compresses to
    the same bytes, which are repeated instead of recomputed.
    """
    chunk = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(count, chunk)
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH)
    return head + block * blocks + tail if blocks else head + tail


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A .npy version 1.0 header declaring `shape` (the data need not follow)."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    text += " " * ((-(10 + len(text) + 1)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@dataclass
class Member:
    """One zip member written by hand: stored or deflated, possibly sparse (a hole of zeros)."""

    name: str
    data: bytes  # what is written (compressed when method is 8)
    size: int  # uncompressed size
    crc: int
    method: int = 0
    hole: int = 0  # zero bytes after `data`, left as a sparse hole (stored members only)


def stored(name: str, data: bytes) -> Member:
    return Member(name, data, len(data), zlib.crc32(data))


def write_zip(path: Path, members: list[Member]) -> None:
    """A plain zip archive (no zip64: every size and offset must stay below 4 GiB)."""
    central = []
    with open(path, "wb") as f:
        for m in members:
            offset = f.tell()
            name = m.name.encode()
            written = len(m.data) + m.hole
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, m.method, 0, 0x21, m.crc,
                                written, m.size, len(name), 0) + name + m.data)
            if m.hole:
                f.seek(m.hole, os.SEEK_CUR)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, m.method, 0,
                                       0x21, m.crc, written, m.size, len(name), 0, 0, 0, 0, 0,
                                       offset) + name)
        start = f.tell()
        for record in central:
            f.write(record)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                            f.tell() - start, start, 0))


def self_test() -> None:
    """The hand-made streams are what they claim to be (cheap; run before every campaign)."""
    for count in (0, 5, (1 << 20) * 2 + 77):
        assert crc32_zeros(zlib.crc32(b"ab"), count) == zlib.crc32(bytes(count), zlib.crc32(b"ab"))
        assert zlib.decompress(deflate_zeros(b"xy", count), -15) == b"xy" + bytes(count)
    array = np.arange(6, dtype=np.float32)
    assert npy_header("<f4", (6,)) == npy_bytes(array)[:128]


def model_arrays(seed: int, hidden: tuple[int, ...] = (16, 8)) -> dict[str, np.ndarray]:
    """A small valid digitcli model (random weights, an unsure policy), as np.savez arrays."""
    rng = np.random.default_rng(seed)
    sizes = (784, *hidden, 10)
    layers = [{"units": n, "activation": "relu"} for n in hidden] + [{"units": 10, "activation": "linear"}]
    metadata = {"format": "digitcli-model", "format_version": 1, "input_scale": 1 / 255,
                "architecture": {"inputs": 784, "layers": layers},
                "calibration": {"temperature": 1.0}, "source": f"bench/faults.py seed {seed}"}
    arrays = {"metadata": np.array(json.dumps(metadata, sort_keys=True))}
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        arrays[f"layer{i}.weights"] = (rng.normal(0, 1 / math.sqrt(n_in), (n_in, n_out))).astype(np.float32)
        arrays[f"layer{i}.bias"] = np.zeros(n_out, np.float32)
    components = np.linalg.qr(rng.normal(size=(784, 5)))[0].T.astype(np.float32)
    arrays.update({"unsure.mean": np.full(784, 0.1, np.float32), "unsure.components": components,
                   "unsure.centre": np.zeros(2), "unsure.spread": np.ones(2),
                   "unsure.threshold": np.array([3.0])})
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def with_metadata(arrays: dict, change: Callable[[dict], object]) -> dict:
    """A copy of `arrays` whose metadata is `change(metadata)` (or the changed dict itself)."""
    metadata = json.loads(str(arrays["metadata"]))
    result = change(metadata)
    metadata = metadata if result is None else result
    return {**arrays, "metadata": np.array(json.dumps(metadata))}


def digit_picture(digit: int, rng: random.Random, size: int = 96) -> "Image.Image":
    """A dark digit on light paper, in Pillow's built-in font, a little shifted and noisy."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("L", (size, size), 235 + rng.randint(0, 20))
    font = ImageFont.load_default(size=int(size * 0.7))
    ImageDraw.Draw(picture).text((size * 0.3 + rng.randint(-6, 6), size * 0.1 + rng.randint(-6, 6)),
                                 str(digit), fill=rng.randint(0, 60), font=font)
    noise = np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, 6, (size, size))
    pixels = np.clip(np.asarray(picture, np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def png_bytes(picture, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes()


def tiny_dataset(folder: Path, rng: np.random.Generator) -> Path:
    """Four raw IDX files: 600 training and 200 test images (a slice of MNIST when
    DIGITCLI_DATA names its IDX folder, otherwise noisy copies of ten random patterns)."""
    folder.mkdir(parents=True, exist_ok=True)
    mnist = os.environ.get("DIGITCLI_DATA")
    for split, count in (("train", 600), ("t10k", 200)):
        x = y = None
        if mnist and (Path(mnist) / f"{split}-images-idx3-ubyte.gz").is_file():
            with gzip.open(Path(mnist) / f"{split}-images-idx3-ubyte.gz") as f:
                x = np.frombuffer(f.read(16 + count * 784)[16:], np.uint8).reshape(count, 28, 28)
            with gzip.open(Path(mnist) / f"{split}-labels-idx1-ubyte.gz") as f:
                y = np.frombuffer(f.read(8 + count)[8:], np.uint8)
        if x is None:
            patterns = np.random.default_rng(1).random((10, 28, 28)) > 0.7
            y = rng.integers(0, 10, count).astype(np.uint8)
            x = np.clip(patterns[y] * rng.uniform(150, 255, (count, 1, 1))
                        + rng.normal(0, 30, (count, 28, 28)), 0, 255).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte").write_bytes(idx_bytes(x, 2051))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(y, 2049))
    return folder


def hidden_temp_files(folder: Path) -> list[str]:
    """Hidden temporary files a crashed writer may leave (.NAME.XXXX.tmp, .NAME.rollback)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*")
                  if p.is_file() and (p.name.endswith(".tmp") or p.name.endswith(".rollback")))


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


# ---------------------------------------------------------------------------- the campaign


class Campaign:
    def __init__(self, root: Path, seed: int, quick: bool):
        self.root, self.seed, self.quick = root, seed, quick
        self.runner = Runner(root)
        self._cache: dict[str, object] = {}
        self.counter = 0

    def rng(self, category: str) -> random.Random:
        """One generator per category, so --only does not change the other categories' draws."""
        return random.Random(f"{self.seed}/{category}")

    def folder(self, name: str) -> Path:
        self.counter += 1
        path = self.root / "cases" / f"{self.counter:03d}-{re.sub(r'[^A-Za-z0-9.-]+', '_', name)}"
        path.mkdir(parents=True)
        return path

    def cached(self, key: str, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # shared inputs, made once
    def model_a(self) -> bytes:
        return self.cached("A", lambda: npz_bytes(model_arrays(self.seed * 10 + 1)))

    def model_p(self) -> bytes:
        return self.cached("P", lambda: npz_bytes(model_arrays(self.seed * 10 + 2)))

    def tiny(self) -> Path:
        return self.cached("tiny", lambda: tiny_dataset(self.root / "shared" / "tiny",
                                                        np.random.default_rng(self.seed)))

    def picture(self) -> Path:
        def make():
            path = self.root / "shared" / "seven.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(digit_picture(7, random.Random(self.seed))))
            return path
        return self.cached("picture", make)

    def pictures(self, count: int = 400) -> Path:
        def make():
            folder = self.root / "shared" / f"pictures{count}"
            folder.mkdir(parents=True)
            rng = random.Random(f"{self.seed}/pictures")
            for i in range(count):
                digit = rng.randint(0, 9)
                (folder / f"{i:04d}_{digit}.png").write_bytes(
                    png_bytes(digit_picture(digit, rng, size=rng.choice((64, 96, 128)))))
            return folder
        return self.cached(f"pictures{count}", make)

    def loads(self, model: Path, cwd: Path) -> str | None:
        """None when `predict --model MODEL` answers with finite probabilities, else why not."""
        ran = self.runner.run(["predict", str(self.picture()), "--model", str(model), "--format",
                               "jsonl", "--workers", "1"], cwd=cwd, timeout=60, memory=True)
        if ran.rc != 0 or not ran.out.strip():
            return f"{model.name} does not load ({ran.describe()})"
        record = json.loads(ran.out.decode().splitlines()[0])
        if record["status"] == "error" or not all(map(math.isfinite, record["probabilities"])):
            return f"{model.name} gives {record['status']} {record['probabilities']}"
        return None


# ---------------------------------------------------------------------------- 1. kill-train


TRAIN_PHASES = ("start", "epochs", "promotion", "record")


def train_phases(trace: list[str]) -> dict[str, range]:
    """The baseline's file-system changes (1-based) by phase: before the first checkpoint, the
    epochs, writing the candidate and deploying it, and the run record after the deployment.
    Equal quarters when the changes cannot be told apart (a later digitcli may name files anew)."""
    def first(test, after=0) -> int | None:
        return next((i for i in range(after, len(trace)) if test(trace[i])), None)

    checkpoint = first(lambda t: "checkpoint" in t)
    candidate = first(lambda t: "candidate" in t, checkpoint or 0)
    deployed = first(lambda t: t.split("\t")[0] in ("replace", "rename") and t.endswith("\tprod.npz"),
                     candidate or 0)
    if None in (checkpoint, candidate, deployed):
        cuts = [len(trace) * i // 4 for i in range(5)]
    else:
        cuts = [0, checkpoint, candidate, deployed + 1, len(trace)]
    return {phase: range(cuts[i] + 1, cuts[i + 1] + 1) for i, phase in enumerate(TRAIN_PHASES)}


def shown(change: str) -> str:
    """A trace line for people: `replace runs/<run>/checkpoint.npz`."""
    return re.sub(r"runs/[^/]+", "runs/<run>", change.replace("\t", " "))


def kill_train_cases(c: Campaign) -> Iterator[Case]:
    rng = c.rng("kill-train")
    # Crash points per phase; quick tries only the phases in which a crash can touch the deployed
    # model, and no timed kill (each case is two trainings).
    per_phase, random_kills = (({"promotion": 1, "record": 1}, 0) if c.quick else
                               ({"start": 1, "epochs": 1, "promotion": 2, "record": 2}, 3))
    trace: list[str] = []
    timing: dict[str, float] = {}
    used: set[int] = set()

    def baseline() -> Outcome:
        """An uninterrupted run promotes once, keeps the old model, and gives the trace."""
        work = c.folder("kill-train-baseline")
        (work / "prod.npz").write_bytes(c.model_a())
        log = c.root / "tmp" / "train-trace.txt"
        ran = c.runner.run([*TRAIN, "--data", str(c.tiny()), "--promote", "prod.npz"], cwd=work,
                           timeout=TRAIN_SECONDS, hook={"root": work, "trace": log})
        timing["seconds"] = ran.seconds
        trace.extend(line.split("\t", 1)[1] for line in log.read_text().splitlines())
        if ran.rc != 0:
            return failed(f"uninterrupted train --promote: {ran.describe()}")
        if read(work / "prod.previous.npz") != c.model_a():
            return failed("uninterrupted run: prod.previous.npz is not the model it replaced", lost=True)
        if (why := c.loads(work / "prod.npz", work)) or (why := leftovers(work)):
            return failed(f"uninterrupted run: {why}")
        sizes = ", ".join(f"{p} {len(r)}" for p, r in train_phases(trace).items())
        return held(f"{len(trace)} file-system changes ({sizes}), {ran.seconds:.1f} s")

    yield Case("kill-train", "baseline", baseline)
    # Crash points: a seeded place in each phase of the baseline's changes (known only once it
    # ran); drawn now, so the seed fixes them.
    draws = [(phase, rng.random()) for phase, count in per_phase.items() for _ in range(count)]
    times = [rng.uniform(0.05, 0.9) for _ in range(random_kills)]
    previous = [rng.random() < 0.5 for _ in range(len(draws) + random_kills)]
    for i, (phase, u) in enumerate(draws):
        def crash(phase=phase, u=u, with_previous=previous[i]) -> Outcome:
            if not trace:
                return skipped("no baseline trace")
            span = train_phases(trace)[phase]
            if not span:
                return skipped(f"no file-system changes in the {phase} phase")
            k = span[int(u * len(span))]
            while k in used and k + 1 in span:  # two draws on one change: take the next one
                k += 1
            used.add(k)
            return kill_train(c, f"killed just before change {k}/{len(trace)} "
                              f"({phase}: {shown(trace[k - 1])})", with_previous, hook_crash=k)
        yield Case("kill-train", f"crash-{phase}-{u:.3f}", crash)
    for i, share in enumerate(times):
        def timed(share=share, with_previous=previous[len(draws) + i]) -> Outcome:
            if "seconds" not in timing:
                return skipped("no baseline timing")
            at = share * timing["seconds"]
            return kill_train(c, f"SIGKILL at {at:.2f} s", with_previous, kill_at=at)
        yield Case("kill-train", f"sigkill-at-{share:.3f}", timed)


def leftovers(folder: Path) -> str | None:
    left = hidden_temp_files(folder)
    return f"hidden temporary files left: {', '.join(left)}" if left else None


def kill_train(c: Campaign, how: str, with_previous: bool, *, hook_crash: int = 0,
               kill_at: float | None = None) -> Outcome:
    work = c.folder("kill-train")
    a, p = c.model_a(), c.model_p()
    target, previous = work / "prod.npz", work / "prod.previous.npz"
    target.write_bytes(a)
    if with_previous:
        previous.write_bytes(p)
    how += ", with a previous model" if with_previous else ", no previous model"
    args = [*TRAIN, "--data", str(c.tiny()), "--promote", "prod.npz"]
    if hook_crash:
        ran = c.runner.run(args, cwd=work, timeout=TRAIN_SECONDS,
                           hook={"root": work, "crash_at": hook_crash})
        if ran.rc != -signal.SIGKILL:
            return skipped(f"{how}: the run never got there ({ran.describe()})")
    else:
        started = time.perf_counter()
        process = c.runner.start(args, cwd=work)
        try:
            process.wait(timeout=kill_at)
            finish(process, 10, started)
            return skipped(f"{how}: the run had already ended (exit {process.returncode})")
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            finish(process, 30, started)

    # Right after the kill: PATH is the old model or a new complete one; .previous is consistent.
    now, before = read(target), read(previous)
    if now is None:
        return failed(f"{how}: prod.npz is gone after the kill", lost=a != before)
    promoted = now != a
    if promoted:
        if why := c.loads(target, work):
            return failed(f"{how}: after the kill {why}", lost=a != before)
        if before != a:
            return failed(f"{how}: promoted, but prod.previous.npz is not the model it replaced",
                          lost=True)
    elif before != (p if with_previous else None):
        return failed(f"{how}: not promoted, yet prod.previous.npz changed", lost=with_previous)

    # The next run, as cron would start it: resume, finish, deploy at most once in all.
    ran = c.runner.run([*args, "--resume"], cwd=work, timeout=TRAIN_SECONDS)
    after_target, after_previous = read(target), read(previous)
    lost = a not in (after_target, after_previous)
    if ran.rc != 0:
        return failed(f"{how}: --resume: {ran.describe()}", lost=lost)
    if after_previous != a:
        return failed(f"{how}: --resume deployed a second time; prod.previous.npz no longer holds "
                      f"the model the first promotion replaced", lost=lost)
    if after_target == a:
        return failed(f"{how}: after --resume prod.npz is still the old model")
    if why := c.loads(target, work):
        return failed(f"{how}: after --resume {why}")
    if why := leftovers(work):
        return failed(f"{how}: after --resume, {why}")
    return held(how + (" (had promoted)" if promoted else ""))


# ---------------------------------------------------------------------------- 2. kill-rollback


def kill_rollback_cases(c: Campaign) -> Iterator[Case]:
    rng = c.rng("kill-rollback")
    trace: list[str] = []
    timing: dict[str, float] = {}
    delay = 0.03  # each file-system change takes this long, so kills land between them

    def setup(name: str) -> Path:
        work = c.folder(name)
        (work / "prod.npz").write_bytes(c.model_a())
        (work / "prod.previous.npz").write_bytes(c.model_p())
        return work

    def baseline() -> Outcome:
        work = setup("rollback-baseline")
        log = c.root / "tmp" / "rollback-trace.txt"
        ran = c.runner.run(["rollback", "prod.npz"], cwd=work, timeout=60,
                           hook={"root": work, "trace": log, "delay": delay})
        timing["seconds"] = ran.seconds
        trace.extend(line.split("\t", 1)[1] for line in log.read_text().splitlines())
        if ran.rc != 0:
            return failed(f"uninterrupted rollback: {ran.describe()}")
        if (read(work / "prod.npz"), read(work / "prod.previous.npz")) != (c.model_p(), c.model_a()):
            return failed("uninterrupted rollback did not swap the two models")
        if why := leftovers(work):
            return failed(f"uninterrupted rollback: {why}")
        return held(f"{len(trace)} file-system changes, {ran.seconds:.2f} s with {delay * 1000:.0f} ms each")

    yield Case("kill-rollback", "baseline", baseline)
    # Every crash point: there are only a handful. The list is known once the baseline ran.
    for k in range(1, 13):
        def crash(k=k) -> Outcome:
            if k > len(trace):
                return skipped("beyond the last change")  # dropped from the table below
            return kill_rollback(c, setup("rollback-crash"),
                                 f"killed just before change {k}/{len(trace)} ({shown(trace[k - 1])})",
                                 crash_at=k)
        yield Case("kill-rollback", f"crash-point-{k}", crash)
    for share in [rng.random() for _ in range(4 if c.quick else 20)]:
        def timed(share=share) -> Outcome:
            if "seconds" not in timing:
                return skipped("no baseline timing")
            at = share * timing["seconds"]
            return kill_rollback(c, setup("rollback-kill"), f"SIGKILL at {at * 1000:.0f} ms "
                                 f"({delay * 1000:.0f} ms per change)", delay=delay, kill_at=at)
        yield Case("kill-rollback", f"sigkill-at-{share:.3f}", timed)


def kill_rollback(c: Campaign, work: Path, how: str, *, crash_at: int = 0, delay: float = 0.0,
                  kill_at: float | None = None) -> Outcome:
    a, p = c.model_a(), c.model_p()
    target, previous = work / "prod.npz", work / "prod.previous.npz"
    if crash_at:
        ran = c.runner.run(["rollback", "prod.npz"], cwd=work, timeout=60,
                           hook={"root": work, "crash_at": crash_at})
        if ran.rc != -signal.SIGKILL:
            return skipped(f"{how}: never got there ({ran.describe()})")
    else:
        started = time.perf_counter()
        process = c.runner.start(["rollback", "prod.npz"], cwd=work,
                                 hook={"root": work, "delay": delay})
        try:
            process.wait(timeout=kill_at)
            how += " (it had ended)"
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
        finish(process, 30, started)
    now = read(target)
    hidden = hidden_temp_files(work)
    if now not in (a, p):
        state = "gone" if now is None else "neither model"
        ran = c.runner.run(["rollback", "prod.npz"], cwd=work, timeout=60)
        kept = {read(target), read(previous)}
        return failed(f"{how}: prod.npz is {state} after the kill"
                      + (f" (hidden: {', '.join(hidden)})" if hidden else "")
                      + f"; a second rollback: {ran.describe()}", lost=not {a, p} <= kept)
    ran = c.runner.run(["rollback", "prod.npz"], cwd=work, timeout=60)
    kept = {read(target), read(previous)}
    lost = not {a, p} <= kept
    if ran.rc != 0:
        return failed(f"{how}: prod.npz survived, but a second rollback: {ran.describe()}"
                      + (f" (the other model only in {', '.join(hidden)})" if hidden and lost else ""),
                      lost=lost)
    if lost:
        return failed(f"{how}: after a second rollback one of the two models is gone", lost=True)
    if why := leftovers(work):
        return failed(f"{how}: after a second rollback, {why}")
    return held(how)


# ---------------------------------------------------------------------------- 3. signals


def _documented_sigterm_codes() -> set[int]:
    """143 (128 + SIGTERM) or death by the signal, plus any code the README gives for SIGTERM."""
    codes = {143, -signal.SIGTERM}
    readme = REPO / "README.md"
    if readme.is_file():
        for line in readme.read_text().splitlines():
            if "SIGTERM" in line and (found := re.match(r"\|\s*(\d+)\s*\|", line)):
                codes.add(int(found.group(1)))
    return codes


def signal_cases(c: Campaign) -> Iterator[Case]:
    rng = c.rng("signals")
    combos = [(signal.SIGINT, "group", "json"), (signal.SIGTERM, "process", "json"),
              (signal.SIGINT, "process", "jsonl"), (signal.SIGTERM, "group", "jsonl")]
    timing: dict[str, float] = {}

    def baseline() -> Outcome:
        folder = c.pictures()
        process, started, workers = _start_predict(c, folder, "jsonl")
        ran = finish(process, 120, started)
        if workers is None:
            return failed("no worker processes appeared within 20 s")
        timing["work"] = ran.seconds - workers
        if ran.rc not in (0,):
            return failed(f"uninterrupted predict: {ran.describe()}")
        return held(f"{len(ran.out.splitlines())} records in {ran.seconds:.1f} s "
                    f"(workers after {workers:.1f} s)")

    yield Case("signals", "baseline", baseline)
    count = 4 if c.quick else 12
    for i in range(count):
        sig, target, fmt = combos[i % len(combos)]
        share = rng.uniform(0.05, 0.7)

        def case(sig=sig, target=target, fmt=fmt, share=share) -> Outcome:
            if "work" not in timing:
                return skipped("no baseline timing")
            return interrupt_predict(c, sig, target, fmt, share * timing["work"])
        yield Case("signals", f"{signal.Signals(sig).name}-{target}-{fmt}-{share:.3f}", case)


def _start_predict(c: Campaign, folder: Path, fmt: str):
    """Start `predict DIR --workers 2`; return it, its start time and when its workers appeared."""
    cwd = c.folder("predict")
    started = time.perf_counter()
    process = c.runner.start(["predict", str(folder), "--workers", "2", "--format", fmt], cwd=cwd,
                             memory=True)
    while time.perf_counter() - started < 20 and process.poll() is None:
        if len(descendants(process.pid)) >= 2:
            return process, started, time.perf_counter() - started
        time.sleep(0.01)
    return process, started, None


def interrupt_predict(c: Campaign, sig: int, target: str, fmt: str, delay: float) -> Outcome:
    name = signal.Signals(sig).name
    how = f"{name} to the {target} {delay:.2f} s after the workers started, --format {fmt}"
    process, started, workers = _start_predict(c, c.pictures(), fmt)
    if workers is None:
        finish(process, 60, started)
        return failed(f"{how}: no worker processes appeared")
    time.sleep(delay)
    family = descendants(process.pid)
    if process.poll() is not None:
        finish(process, 10, started)
        return skipped(f"{how}: it had already finished")
    if target == "group":
        os.killpg(process.pid, sig)
    else:
        os.kill(process.pid, sig)
    ran = finish(process, 20, started)
    time.sleep(1.5)  # workers get a moment to notice
    alive = still_alive(family)
    for pid in alive:  # ours: clean up, then report
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    problems = []
    expected = {130} if sig == signal.SIGINT else _documented_sigterm_codes()
    if ran.rc not in expected:
        problems.append("no exit within 20 s" if ran.rc is None else
                        f"exit {ran.rc} (expected {' or '.join(map(str, sorted(expected)))})")
    lines = ran.err_lines
    if "Traceback" in ran.err.decode(errors="replace"):
        problems.append(f"a traceback on stderr ({len(lines)} lines)")
    elif len(lines) != 1 or not lines[0].startswith("digitcli:"):
        problems.append(f"stderr is {len(lines)} lines, not one digitcli: line"
                        + (f" ({lines[0][:80]!r})" if lines else ""))
    text = ran.out.decode(errors="replace")
    try:
        if fmt == "json" and text.strip():
            json.loads(text)
        elif fmt == "jsonl":
            for line in text.splitlines():
                json.loads(line)
            if text and not text.endswith("\n"):
                raise ValueError("last line unfinished")
    except ValueError as exc:
        problems.append(f"--format {fmt} output does not parse ({str(exc)[:60]})")
    if alive:
        problems.append(f"{len(alive)} of {len(family)} worker processes still running after the exit")
    return failed(f"{how}: {'; '.join(problems)}") if problems else held(how)


# ---------------------------------------------------------------------------- 4. models


def model_cases(c: Campaign) -> Iterator[Case]:
    base = model_arrays(c.seed * 10 + 3)
    good = npz_bytes(base)
    marker = c.root / "tmp" / "CODE-RAN"  # created if a pickled payload were ever unpickled

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def arrays(**changes) -> Callable[[Path], None]:
        return lambda path: path.write_bytes(npz_bytes({**base, **changes}))

    def metadata(change) -> Callable[[Path], None]:
        return lambda path: path.write_bytes(npz_bytes(with_metadata(base, change)))

    def pickled(path: Path) -> None:
        members = [stored(f"{k}.npy", npy_bytes(v)) for k, v in base.items() if k != "layer0.weights"]
        members.append(stored("layer0.weights.npy",
                              npy_bytes(np.array([Payload()], dtype=object), allow_pickle=True)))
        write_zip(path, members)

    def members_but(name: str) -> list[Member]:
        return [stored(f"{k}.npy", npy_bytes(v)) for k, v in base.items() if k != name]

    def bomb(path: Path) -> None:  # 1.3 MB that inflates to 1.25 GB of weights
        header = npy_header("<f4", (784, 400_000))
        size = 784 * 400_000 * 4
        write_zip(path, members_but("layer0.weights") + [Member(
            "layer0.weights.npy", deflate_zeros(header, size), len(header) + size,
            crc32_zeros(zlib.crc32(header), size), method=8)])

    def huge_shape(path: Path) -> None:  # declares 3.4 TB, holds 64 bytes
        write_zip(path, members_but("layer0.weights")
                  + [stored("layer0.weights.npy", npy_header("<f4", (784, 1 << 30)) + bytes(64))])

    def extra_array(path: Path) -> None:  # an unnamed 3 GB member, a sparse hole on disk
        header = npy_header("<f4", (750_000_000,))
        size = 750_000_000 * 4
        write_zip(path, members_but("") + [Member("extra.npy", header, len(header) + size,
                                                  crc32_zeros(zlib.crc32(header), size), hole=size)])

    def weights(value, dtype) -> dict:
        w = base["layer0.weights"].astype(dtype)
        w[:, 0] = value
        return {"layer0.weights": w}

    def keras_file(layers: list[dict], h5: Callable[[object], None] | None = None):
        def write(path: Path) -> None:
            config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 784]}}, *layers]}}
            weights_h5 = b""
            if h5 is not None:
                import h5py

                buffer = io.BytesIO()
                with h5py.File(buffer, "w") as f:
                    h5(f)
                weights_h5 = buffer.getvalue()
            write_zip(path, [stored("metadata.json", b'{"keras_version": "3.0.0"}'),
                             stored("config.json", json.dumps(config).encode()),
                             stored("model.weights.h5", weights_h5)])
        return write

    dense = lambda units, activation: {"class_name": "Dense",  # noqa: E731
                                       "config": {"units": units, "activation": activation}}

    def sparse_h5(f) -> None:  # 3 GB of weights that exist only as a fill value (never written)
        shapes = [(784, 1_000_000), (1_000_000, 8), (8, 10)]
        for i, (n_in, n_out) in enumerate(shapes):
            group = f"layers/dense{'_' + str(i) if i else ''}/vars"
            f.create_dataset(f"{group}/0", shape=(n_in, n_out), dtype="f4",
                             chunks=(min(n_in, 1000), min(n_out, 1000)))
            f.create_dataset(f"{group}/1", shape=(n_out,), dtype="f4")

    def fifo(path: Path) -> None:
        os.mkfifo(path)

    crafted: list[tuple[str, Callable[[Path], None], bool]] = [  # name, maker, may it load?
        ("not-a-zip", lambda p: p.write_bytes(random.Random(c.seed).randbytes(4096)), False),
        ("truncated", lambda p: p.write_bytes(good[: len(good) // 2]), False),
        ("pickled-object-array", pickled, False),
        ("zip-bomb-member", bomb, False),
        ("huge-declared-shape", huge_shape, False),
        ("extra-huge-unnamed-array", extra_array, True),
        ("input-scale-nan", metadata(lambda m: m.update(input_scale=float("nan"))), False),
        ("input-scale-1e39", metadata(lambda m: m.update(input_scale=1e39)), False),
        ("input-scale-negative", metadata(lambda m: m.update(input_scale=-1 / 255)), False),
        ("input-scale-string", metadata(lambda m: m.update(input_scale="0.0039")), False),
        ("float64-weights-1e300", arrays(**weights(1e300, np.float64)), False),
        ("float32-weights-3e38", arrays(**{"layer0.weights": np.full((784, 16), 3e38, np.float32)}), False),
        ("unsure-threshold-nan", arrays(**{"unsure.threshold": np.array([np.nan])}), False),
        ("unsure-components-empty", arrays(**{"unsure.components": np.zeros((0, 784), np.float32)}), False),
        ("complex-weights", arrays(**{"layer0.weights": base["layer0.weights"].astype(np.complex64)}), False),
        ("metadata-a-list", metadata(lambda m: [m]), False),
        ("architecture-a-list", metadata(lambda m: m.update(architecture=[m["architecture"]])), False),
        ("calibration-a-list", metadata(lambda m: m.update(calibration=[1.0])), False),
        ("layer-spec-a-string", metadata(lambda m: m["architecture"].update(layers=["relu"] * 3)), False),
        ("metadata-nested-100k", lambda p: p.write_bytes(npz_bytes({**base, "metadata": np.array(
            '{"format": "digitcli-model", "format_version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")})), False),
        ("metadata-50MB", metadata(lambda m: m.update(padding="x" * 12_500_000)), False),
        ("format-version-2", metadata(lambda m: m.update(format_version=2)), False),
        ("symlink-to-dev-zero", lambda p: p.symlink_to("/dev/zero"), False),
        ("fifo", fifo, False),
        ("folder", lambda p: p.mkdir(), False),
        ("keras-lambda-layer", keras_file([{"class_name": "Lambda", "config": {
            "function": {"class_name": "__lambda__", "config": {"code": "print('hello')"}}}}]), False),
        ("keras-sparse-h5-3GB", keras_file([dense(1_000_000, "relu"), dense(8, "relu"), dense(10, "linear")],
                                           sparse_h5), False),
    ]
    if c.quick:
        crafted = c.rng("models").sample(crafted, 8)
    for name, make, may_load in crafted:
        def case(name=name, make=make, may_load=may_load) -> Outcome:
            work = c.folder(f"model-{name}")
            path = work / ("model.keras" if name.startswith("keras") else "model.npz")
            make(path)
            ran = c.runner.run(["predict", str(c.picture()), "--model", str(path), "--format",
                                "jsonl", "--workers", "1"], cwd=work, timeout=MODEL_SECONDS, memory=True)
            if marker.exists():
                return failed("code from the model file ran (the pickled payload was unpickled)")
            if ran.rc is None:
                return failed(f"no answer within {MODEL_SECONDS} s (a hang?), killed")
            if why := over_peak(ran, f"exit {ran.rc}, "):
                return failed(why)
            if ran.rc == 0:
                record = json.loads(ran.out.decode().splitlines()[0])
                finite = record["probabilities"] and all(
                    isinstance(v, (int, float)) and math.isfinite(v) for v in record["probabilities"])
                if not finite:
                    return failed(f"exit 0 with probabilities {record['probabilities']} ({record['status']})")
                return held(f"loaded ({ran.seconds:.1f} s)") if may_load else \
                    failed(f"accepted (exit 0, {record['status']}), should be refused")
            lines = ran.err_lines
            if ran.rc != 5:
                return failed(ran.describe() + (" (memory limit)" if "Memory" in ran.err.decode(errors="replace") else ""))
            if len(lines) != 1 or not lines[0].startswith("digitcli: error:"):
                return failed(f"exit 5 but stderr is {len(lines)} lines: {lines[:2]}")
            if path.name not in lines[0]:
                return failed(f"exit 5 but the message does not name the file: {lines[0]!r}")
            return held(f"{lines[0][len('digitcli: error: '):][:90]} ({ran.seconds:.1f} s)")
        yield Case("models", name, case)


# ---------------------------------------------------------------------------- 5. images


def image_cases(c: Campaign) -> Iterator[Case]:
    from PIL import Image

    rng = random.Random(f"{c.seed}/image-pictures")
    seven = digit_picture(7, rng, size=120)
    good = png_bytes(seven)
    jpeg = png_bytes(seven.convert("RGB"), format="JPEG", quality=90)

    def huge_png(path: Path) -> None:  # 144 Mpx declared: between Pillow's warning and its error
        side = 12_000
        raw = side * (side + 1)
        ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
        idat = b"\x78\xda" + deflate_zeros(b"", raw) + struct.pack(">I", ((raw % 65521) << 16) | 1)
        chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(  # noqa: E731
            ">I", zlib.crc32(kind + body))
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

    def i16(path: Path) -> None:
        values = (np.asarray(seven, np.uint16) * 257).astype("<u2")
        Image.frombytes("I;16", seven.size, values.tobytes()).save(path, format="TIFF")

    def rgba(path: Path) -> None:  # black ink, drawn only by alpha, on a transparent background
        ink = 255 - np.asarray(seven, np.uint8)
        pixels = np.zeros((*ink.shape, 4), np.uint8)
        pixels[..., 3] = ink
        Image.fromarray(pixels, mode="RGBA").save(path)

    def unreadable(path: Path) -> None:
        path.write_bytes(good)
        path.chmod(0)

    # name, file name, maker, kind: "bad" needs an error record; "same" must read as plain.png does
    cases: list[tuple[str, str, Callable[[Path], None], str]] = [
        ("truncated-png", "cut.png", lambda p: p.write_bytes(good[: len(good) // 2]), "bad"),
        ("truncated-jpeg", "cut.jpg", lambda p: p.write_bytes(jpeg[: len(jpeg) // 2]), "bad"),
        ("zero-bytes", "empty.png", lambda p: p.write_bytes(b""), "bad"),
        ("fifo", "pipe.png", lambda p: os.mkfifo(p), "bad"),
        ("symlink-to-dev-zero", "zero.png", lambda p: p.symlink_to("/dev/zero"), "bad"),
        ("decompression-bomb-png", "bomb.png", huge_png, "bad"),
        ("text-named-png", "notes.png", lambda p: p.write_text("not a picture\n"), "bad"),
        ("folder-named-png", "folder.png", lambda p: p.mkdir(), "folder"),
        ("unreadable-chmod-000", "secret.png", unreadable, "bad"),
        ("one-pixel", "dot.png", lambda p: Image.new("L", (1, 1), 0).save(p), "bad"),
        ("i16-tiff", "deep.tif", i16, "same"),
        ("rgba-png", "alpha.png", rgba, "same"),
    ]
    if c.quick:
        cases = c.rng("images").sample(cases, 5)
    for name, filename, make, kind in cases:
        def case(name=name, filename=filename, make=make, kind=kind) -> Outcome:
            if name.startswith("unreadable") and os.geteuid() == 0:
                return skipped("running as root, which can read a chmod 000 file anyway")
            work = c.folder(f"image-{name}")
            folder = work / "batch"
            folder.mkdir()
            (folder / "plain.png").write_bytes(good)
            for i in range(3):
                (folder / f"good{i}.png").write_bytes(png_bytes(digit_picture(i + 1, rng)))
            make(folder / filename)
            ran = c.runner.run(["predict", str(folder), "--format", "jsonl", "--workers", "2"],
                               cwd=work, timeout=BATCH_SECONDS, memory=True)
            if ran.rc is None:
                return failed(f"the batch did not finish within {BATCH_SECONDS} s")
            if why := over_peak(ran, f"exit {ran.rc}, "):
                return failed(why)
            try:
                records = {Path(r["path"]).name: r for r in map(json.loads, ran.out.decode().splitlines())}
            except ValueError as exc:
                return failed(f"jsonl output does not parse ({exc}); {ran.describe()}")
            goods = [records.get(n) for n in ("plain.png", "good0.png", "good1.png", "good2.png")]
            if not all(r and r["status"] != "error" for r in goods):
                return failed(f"a good picture was not read: {[r and r['status'] for r in goods]}; {ran.describe()}")
            record = records.get(filename)
            if kind == "folder":
                if record is None and ran.rc == 0:
                    return held("the folder is not a file and is left out")
                if record and record["status"] == "error" and record["error"] and ran.rc == 6:
                    return held(f"error record: {record['error'][:80]}")
                return failed(f"record {record}, {ran.describe()}")
            if record is None:
                return failed(f"no record for {filename}; {ran.describe()}")
            if kind == "same":
                if record["status"] == "error" or record["digit"] != records["plain.png"]["digit"]:
                    return failed(f"{filename} reads as {record['status']} {record['digit']}, "
                                  f"the same picture as plain PNG as {records['plain.png']['digit']}")
                return held(f"digit {record['digit']} like the plain PNG") if ran.rc == 0 else \
                    failed(f"read right, but {ran.describe()}")
            if record["status"] != "error" or not record["error"]:
                return failed(f"{filename} is {record['status']}, not an error record")
            if ran.rc != 6:
                return failed(f"error record, but {ran.describe()} (expected 6)")
            return held(f"{record['error'][:90]} ({ran.seconds:.1f} s)")
        yield Case("images", name, case)


# ---------------------------------------------------------------------------- 6. datasets


def dataset_cases(c: Campaign) -> Iterator[Case]:
    def idx(change: Callable[[dict[str, bytes]], None]) -> Callable[[Path], Path]:
        """An IDX folder made from the tiny dataset with both splits changed alike."""
        def make(work: Path) -> Path:
            folder = work / "idx"
            folder.mkdir()
            files = {p.name: p.read_bytes() for p in c.tiny().iterdir()}
            for split in ("train", "t10k"):
                part = {kind: files[f"{split}-{kind}"] for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")}
                change(part)
                for kind, data in part.items():
                    if data is None:
                        os.mkfifo(folder / f"{split}-{kind}")
                    else:
                        (folder / f"{split}-{kind}").write_bytes(data)
            return folder
        return make

    def truncate(part):
        part["images-idx3-ubyte"] = part["images-idx3-ubyte"][:-1000]

    def magic(part):
        part["images-idx3-ubyte"] = struct.pack(">I", 2049) + part["images-idx3-ubyte"][4:]

    def label10(part):
        labels = bytearray(part["labels-idx1-ubyte"])
        labels[8 + 5] = 10
        part["labels-idx1-ubyte"] = bytes(labels)

    def mismatched(part):
        labels = part["labels-idx1-ubyte"]
        count = struct.unpack(">I", labels[4:8])[0] - 1
        part["labels-idx1-ubyte"] = labels[:4] + struct.pack(">I", count) + labels[8:-1]

    def huge(part):
        part["images-idx3-ubyte"] = struct.pack(">IIII", 2051, 4_000_000_000, 28, 28) + part["images-idx3-ubyte"][16:]

    def fifo_member(part):
        part["images-idx3-ubyte"] = None

    def tiny_arrays() -> dict[str, np.ndarray]:
        files = {p.name: p.read_bytes() for p in c.tiny().iterdir()}
        out = {}
        for split, key in (("train", "train"), ("t10k", "test")):
            out[f"x_{key}"] = np.frombuffer(files[f"{split}-images-idx3-ubyte"][16:], np.uint8).reshape(-1, 28, 28)
            out[f"y_{key}"] = np.frombuffer(files[f"{split}-labels-idx1-ubyte"][8:], np.uint8)
        return out

    def npz(change: Callable[[dict], None]) -> Callable[[Path], Path]:
        def make(work: Path) -> Path:
            arrays = tiny_arrays()
            change(arrays)
            path = work / "mnist.npz"
            members = [stored(f"{k}.npy", npy_bytes(v, allow_pickle=True)) for k, v in arrays.items()]
            write_zip(path, members)
            return path
        return make

    def csv(text: Callable[[], str]) -> Callable[[Path], Path]:
        def make(work: Path) -> Path:
            path = work / "digits.csv"
            path.write_text(text())
            return path
        return make

    def rows(count=50, columns=785, value=None):
        rng = np.random.default_rng(c.seed)
        lines = []
        for i in range(count):
            pixels = rng.integers(0, 256, columns - 1)
            if value is not None and i == 7:
                pixels[100] = value
            lines.append(",".join(map(str, [i % 10, *pixels])))
        return "\n".join(lines) + "\n"

    def folder_with_10(work: Path) -> Path:
        folder = work / "pictures"
        rng = random.Random(c.seed)
        for digit in range(11):
            (folder / str(digit)).mkdir(parents=True)
            for i in range(2):
                (folder / str(digit) / f"{i}.png").write_bytes(png_bytes(digit_picture(digit % 10, rng)))
        return folder

    def fifo_csv(work: Path) -> Path:
        os.mkfifo(work / "data.csv")
        return work / "data.csv"

    def drop(keys):
        return lambda arrays: [arrays.pop(k) for k in keys]

    def objects(arrays):
        for key in ("x_train", "x_test"):
            arrays[key] = np.empty(2, dtype=object)
            arrays[key][0] = "pickled"

    datasets: list[tuple[str, Callable[[Path], Path] | None]] = [
        ("idx-truncated", idx(truncate)),
        ("idx-wrong-magic", idx(magic)),
        ("idx-label-10", idx(label10)),
        ("idx-mismatched-counts", idx(mismatched)),
        ("idx-huge-declared-shape", idx(huge)),
        ("idx-member-a-fifo", idx(fifo_member)),
        ("npz-pickled-objects", npz(objects)),
        ("npz-missing-keys", npz(drop(["x_test", "y_test", "y_train"]))),
        ("csv-wrong-column-count", csv(lambda: rows(columns=700))),
        ("csv-value-256", csv(lambda: rows(value=256))),
        ("csv-header-only", csv(lambda: ",".join(["label"] + [f"pixel{i}" for i in range(784)]) + "\n")),
        ("folder-with-10", folder_with_10),
        ("fifo-as-csv", fifo_csv),
        ("env-nonexistent", None),  # DIGITCLI_DATA=/nonexistent and no --data
    ]
    commands = [("evaluate", ["evaluate", "--format", "json"]),
                ("train", ["train", "--epochs", "1", "--hidden", "16,8", "--quiet", "--out", "m.npz"])]
    plan = [(d, cmd) for d in datasets for cmd in commands]
    if c.quick:
        plan = c.rng("datasets").sample(plan, 6)
    for (name, make), (command, args) in plan:
        def case(name=name, make=make, command=command, args=args) -> Outcome:
            work = c.folder(f"data-{name}-{command}")
            if make is None:
                source, env, extra = "/nonexistent", {"DIGITCLI_DATA": "/nonexistent"}, []
            else:
                path = make(work)
                source, env, extra = str(path), {}, ["--data", str(path)]
            ran = c.runner.run([*args, *extra], cwd=work, env=env, timeout=DATA_SECONDS,
                               memory=command == "evaluate")
            if ran.rc is None:
                return failed(f"no answer within {DATA_SECONDS} s (a hang?), killed")
            if command == "evaluate" and (why := over_peak(ran, f"exit {ran.rc}, ")):
                return failed(why)
            text = ran.err.decode(errors="replace")
            lines = ran.err_lines
            if "Traceback" in text:
                return failed(f"a traceback; {ran.describe()}")
            if ran.rc != 4:
                return failed(ran.describe() + " (expected 4)")
            if len(lines) != 1 or not lines[0].startswith("digitcli: error:"):
                return failed(f"exit 4 but stderr is {len(lines)} lines: {[l[:70] for l in lines[:3]]}")
            names = [source, Path(source).name] + (["DIGITCLI_DATA"] if make is None else [])
            if make is None and "DIGITCLI_DATA" not in lines[0]:
                return failed(f"the message does not name DIGITCLI_DATA: {lines[0]!r}")
            if not any(n in lines[0] for n in names):
                return failed(f"the message does not name the file: {lines[0]!r}")
            return held(lines[0][len("digitcli: error: "):][:100])
        yield Case("datasets", f"{name}/{command}", case)


# ---------------------------------------------------------------------------- 7. full disk


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size_kb: int = 1024):
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mountpoint)],
                   check=True, capture_output=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder`, then free `leave` bytes again."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        block = bytes(1 << 12)
        with contextlib.suppress(OSError):
            while f.write(block):
                pass
    with contextlib.suppress(OSError):
        os.truncate(filler, max(0, filler.stat().st_size - leave))


def full_disk_cases(c: Campaign) -> Iterator[Case]:
    can_mount = os.geteuid() == 0 and shutil.which("mount") is not None
    if can_mount:  # root in a container may still lack the right: try once
        probe = c.root / "mount-probe"
        try:
            with small_filesystem(probe, 64):
                pass
        except (subprocess.CalledProcessError, OSError) as exc:
            can_mount = False
            why = getattr(exc, "stderr", b"") or str(exc).encode()
            mount_problem = why.decode(errors="replace").strip()[:80]
    else:
        mount_problem = "not root"
    train = ["train", "--data", "TINY", "--epochs", "1", "--hidden", "16,8", "--quiet"]
    cases = [  # name, arguments (FULL = the full file system), bytes left free, needs a mount
        ("train-out", train + ["--out", "FULL/new.npz"], 16 << 10, True),
        ("train-promote", train + ["--promote", "FULL/prod.npz"], 16 << 10, True),
        ("train-run-dir", train + ["--out", "WORK/new.npz", "--run-dir", "FULL/run"], 16 << 10, True),
        ("export", ["export", "FULL/prod.npz", "--out", "FULL/prod.keras"], 16 << 10, True),
        ("rollback", ["rollback", "FULL/prod.npz"], 16 << 10, True),
        ("predict-save-preprocessed", ["predict", "PICTURES", "--format", "jsonl",
                                       "--save-preprocessed", "FULL/pre"], 0, True),
        ("predict-stdout-dev-full", ["predict", "PICTURE", "--format", "jsonl"], 0, False),
        ("evaluate-stdout-dev-full", ["evaluate", "--data", "TINY", "--format", "json"], 0, False),
        ("inspect-stdout-dev-full", ["inspect"], 0, False),
    ]
    if c.quick:
        cases = [x for x in cases if x[0] in ("train-promote", "rollback", "predict-save-preprocessed",
                                              "predict-stdout-dev-full")]
    for name, template, leave, needs_mount in cases:
        def case(name=name, template=template, leave=leave, needs_mount=needs_mount) -> Outcome:
            if needs_mount and not can_mount:
                return skipped(f"cannot mount a small tmpfs here ({mount_problem})")
            work = c.folder(f"full-{name}")
            full = work / "full"
            with small_filesystem(full) if needs_mount else contextlib.nullcontext():
                full.mkdir(exist_ok=True)
                (full / "prod.npz").write_bytes(c.model_a())
                (full / "prod.previous.npz").write_bytes(c.model_p())
                pictures = work / "pictures"
                pictures.mkdir()
                for i in range(20):
                    (pictures / f"{i}.png").write_bytes(png_bytes(digit_picture(i % 10, random.Random(i))))
                args = [a.replace("FULL", str(full)).replace("WORK", str(work))
                        .replace("TINY", str(c.tiny())).replace("PICTURES", str(pictures))
                        .replace("PICTURE", str(c.picture())) for a in template]
                if needs_mount:
                    fill(full, leave)
                    ran = c.runner.run(args, cwd=work, timeout=TRAIN_SECONDS)
                else:
                    with open("/dev/full", "wb") as devfull:
                        ran = c.runner.run(args, cwd=work, timeout=TRAIN_SECONDS, stdout=devfull)
                lost = (read(full / "prod.npz"), read(full / "prod.previous.npz")) != (c.model_a(), c.model_p())
                left = hidden_temp_files(full)
            if ran.rc != 10:
                return failed(ran.describe() + " (expected 10)", lost=lost)
            if lost:
                return failed("a model on the full disk changed", lost=True)
            lines = ran.err_lines
            if len(lines) != 1 or not lines[0].startswith("digitcli: error:"):
                return failed(f"exit 10 but stderr is {len(lines)} lines: {[l[:70] for l in lines[:3]]}")
            names = [str(full)] if needs_mount else ["stdout", "standard output", "/dev/full"]
            if not any(n in lines[0] for n in names):
                return failed(f"exit 10 but the message does not name the file: {lines[0]!r}")
            if left:
                return failed(f"hidden temporary files left on the full disk: {', '.join(left)}")
            return held(lines[0][len("digitcli: error: "):][:100])
        yield Case("full-disk", name, case)


# ---------------------------------------------------------------------------- 8. pipes


def pipe_cases(c: Campaign) -> Iterator[Case]:
    cases = [
        ("predict-jsonl-head-1", ["predict", "PICTURES", "--format", "jsonl"], 1),
        ("predict-csv-head-1", ["predict", "PICTURES", "--format", "csv"], 1),
        ("predict-table-head-1", ["predict", "PICTURES"], 1),
        ("inspect-head-8", ["inspect"], 8),
        ("inspect-image-head-1", ["inspect", "--image", "PICTURE"], 1),
        ("evaluate-head-1", ["evaluate", "--data", "TINY"], 1),
        ("help-head-1", ["--help"], 1),
        ("train-help-head-1", ["train", "--help"], 1),
    ]
    if c.quick:
        cases = [x for x in cases if x[0] in ("predict-jsonl-head-1", "inspect-head-8",
                                              "evaluate-head-1", "help-head-1")]
    for name, template, lines in cases:
        def case(template=template, lines=lines) -> Outcome:
            args = [a.replace("PICTURES", str(c.pictures())).replace("PICTURE", str(c.picture()))
                    .replace("TINY", str(c.tiny())) for a in template]
            work = c.folder("pipe")
            started = time.perf_counter()
            process = c.runner.start(args, cwd=work, memory=True, stdout=subprocess.PIPE)
            head = subprocess.Popen(["head", f"-{lines}"], stdin=process.stdout,
                                    stdout=subprocess.DEVNULL)
            process.stdout.close()  # only head holds the reading end now
            ran = finish(process, 60, started)
            head.wait(10)
            if ran.rc != 0:
                return failed(ran.describe() + " (expected 0)")
            if ran.err_lines:
                return failed(f"exit 0 but stderr has {len(ran.err_lines)} lines: {ran.err_lines[0][:80]!r}")
            return held(f"{ran.seconds:.1f} s")
        yield Case("pipes", name, case)


PLANS = {"kill-train": kill_train_cases, "kill-rollback": kill_rollback_cases,
         "signals": signal_cases, "models": model_cases, "images": image_cases,
         "datasets": dataset_cases, "full-disk": full_disk_cases, "pipes": pipe_cases}


# ---------------------------------------------------------------------------- report


def table(results: list[Finished], categories: list[str]) -> str:
    lines = ["| category | what | cases | held | failed | lost | skipped |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    totals = [0, 0, 0, 0, 0]
    for category in categories:
        mine = [r for r in results if r.category == category]
        counts = [sum(r.outcome.status != "skipped" for r in mine),
                  sum(r.outcome.status == "held" for r in mine),
                  sum(r.outcome.status == "failed" for r in mine),
                  sum(r.outcome.lost for r in mine),
                  sum(r.outcome.status == "skipped" for r in mine)]
        totals = [t + n for t, n in zip(totals, counts)]
        lines.append(f"| {category} | {CATEGORIES[category]} | " + " | ".join(map(str, counts)) + " |")
    lines.append("| **all** | | " + " | ".join(f"**{n}**" for n in totals) + " |")
    return "\n".join(lines)


def git_head() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few cases per category (~3 min)")
    parser.add_argument("--only", action="append", choices=list(CATEGORIES), metavar="CATEGORY",
                        help=f"run only this category (repeatable): {', '.join(CATEGORIES)}")
    parser.add_argument("--out", type=Path, help="also write the table and every failure here (Markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    args = parser.parse_args()
    check = subprocess.run([*DIGITCLI, "--version"], capture_output=True, text=True)
    if check.returncode != 0:
        parser.error(f"{sys.executable} -m digitcli does not run: {check.stderr.strip()[:200]}")
    self_test()
    categories = args.only or list(CATEGORIES)
    root = Path(tempfile.mkdtemp(prefix="digitcli-faults-")).resolve()
    campaign = Campaign(root, args.seed, args.quick)
    results: list[Finished] = []
    started = time.perf_counter()
    print(f"{check.stdout.strip()} ({git_head()}), seed {args.seed}{', quick' if args.quick else ''}, "
          f"in {root}", file=sys.stderr)
    try:
        for category in categories:
            for case in PLANS[category](campaign):
                t0 = time.perf_counter()
                try:
                    outcome = case.check()
                except Exception as exc:  # a bug in this script: report it as such, keep going
                    outcome = failed(f"campaign error: {type(exc).__name__}: {exc}")
                if outcome.status == "skipped" and outcome.reason == "beyond the last change":
                    continue
                outcome.reason = outcome.reason.replace(str(root), "…")  # shorter lines
                done = Finished(category, case.name, outcome, time.perf_counter() - t0)
                results.append(done)
                mark = {"held": "held  ", "failed": "FAILED", "skipped": "skip  "}[outcome.status]
                print(f"  {mark} {category}/{case.name} ({done.seconds:.1f} s)"
                      + (f": {outcome.reason}" if outcome.reason else ""), file=sys.stderr, flush=True)
    finally:
        for mount in sorted(root.glob("cases/*/full"), reverse=True):  # in case a case was cut short
            if os.path.ismount(mount):
                subprocess.run(["umount", str(mount)], capture_output=True)
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            for p in root.rglob("*"):  # chmod 000 files and the like must not stop the cleanup
                with contextlib.suppress(OSError):
                    if not p.is_symlink():
                        p.chmod(0o755 if p.is_dir() else 0o644)
            shutil.rmtree(root, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    summary = table(results, categories)
    failures = [r for r in results if r.outcome.status == "failed"]
    skips = [r for r in results if r.outcome.status == "skipped"]
    print(summary)
    print("", file=sys.stderr)
    for r in failures:
        print(f"FAILED {r.category}/{r.name}: {r.outcome.reason}" + (" [LOST]" if r.outcome.lost else ""),
              file=sys.stderr)
    if args.out:
        command = "python bench/faults.py" + (f" --seed {args.seed}" if args.seed else "") + \
            (" --quick" if args.quick else "") + "".join(f" --only {o}" for o in args.only or [])
        text = ["# Fault campaign\n", f"`{command}` on digitcli {git_head()}, "
                f"{time.strftime('%Y-%m-%d %H:%M')}, {minutes:.1f} min, {os.cpu_count()} cores.\n",
                summary, "", f"## Failed ({len(failures)})", ""]
        text += [f"- `{r.category}/{r.name}`: {r.outcome.reason}" + (" **lost**" if r.outcome.lost else "")
                 for r in failures] or ["none"]
        text += ["", f"## Skipped ({len(skips)})", ""]
        text += [f"- `{r.category}/{r.name}`: {r.outcome.reason}" for r in skips] or ["none"]
        text += ["", f"## Held ({len(results) - len(failures) - len(skips)})", ""]
        text += [f"- `{r.category}/{r.name}`" + (f": {r.outcome.reason}" if r.outcome.reason else "")
                 for r in results if r.outcome.status == "held"]
        args.out.write_text("\n".join(text) + "\n")
    print(f"{len(results)} cases in {minutes:.1f} min", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
