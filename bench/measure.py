"""Measuring whole processes: wall time and peak memory of one command, run after run.

Every benchmark goes through `measure()` (one place), so all numbers mean the same thing:

* wall: from just before the fork to the moment the child has been reaped (perf_counter);
* peak RSS: the command's `ru_maxrss`, taken by a *small* launcher that forks and waits for it:
  GNU `/usr/bin/time -f %M` when present, else a tiny `python -S` wrapper around `os.wait4`.
  Not `os.wait4` on our own child: Linux carries the RSS high-water mark of the process that
  forks over into the child's `ru_maxrss` (kept across exec), so a child of this runner (which
  holds NumPy, Pillow and MNIST) would report at least the runner's size. For a command that forks
  worker processes, `ru_maxrss` is the *largest single process* (it includes waited-for
  descendants), not their sum;
* tree peak (optional, `sample_tree=True`): the sum of PSS (proportional set size: shared pages
  divided among the processes sharing them) over the command and all its descendants, sampled
  every SAMPLE_INTERVAL seconds from /proc. That is the real footprint of a process tree, but
  sampling costs a little CPU and can miss short spikes, so it is only used where memory is the
  question.
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SAMPLE_INTERVAL = 0.05


class CommandFailed(RuntimeError):
    """A measured command exited with an unexpected status."""


@dataclass(frozen=True)
class Command:
    """One command to measure; `stdout` is a file to keep its output (None: /dev/null)."""

    name: str
    argv: list[str]
    stdout: Path | None = None
    sample_tree: bool = False
    env: dict[str, str] | None = None
    cwd: Path | None = None
    ok_codes: tuple[int, ...] = (0,)  # exit codes that are not a failure of the run


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    maxrss_kb: int  # ru_maxrss of the child (largest single process of its tree)
    tree_pss_kb: int | None  # sampled peak of the summed PSS of the whole tree, if asked for
    returncode: int
    stderr: str  # last part of stderr, for error messages

    def as_dict(self) -> dict:
        return {"wall": self.wall, "maxrss_kb": self.maxrss_kb, "tree_pss_kb": self.tree_pss_kb,
                "returncode": self.returncode}


def measure(cmd: Command) -> Run:
    """Run `cmd` once as a new process and measure it; raise CommandFailed on an unexpected exit."""
    stdout = open(cmd.stdout, "wb") if cmd.stdout else subprocess.DEVNULL
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        try:
            argv = [*_launcher(rss.name), *map(str, cmd.argv)]
            started = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=stdout, stderr=err, env=cmd.env, cwd=cmd.cwd)
            sampler = _TreeSampler(proc.pid) if cmd.sample_tree else None
            _, status, _ = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
        finally:
            if cmd.stdout:
                stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        tree = sampler.stop() if sampler else None
        err.seek(0)
        tail = err.read()[-4000:].decode(errors="replace")
        maxrss = _last_int(rss.read())
    run = Run(wall, maxrss, tree, proc.returncode, tail)
    if run.returncode not in cmd.ok_codes:
        raise CommandFailed(f"{cmd.name}: exit code {run.returncode}: {' '.join(map(str, cmd.argv))}\n{tail}")
    return run


# Forks the command from a small process, waits for it and writes its ru_maxrss (KB) to a file;
# exits with the command's status, like GNU time.
_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


@functools.cache
def _gnu_time() -> str | None:
    """/usr/bin/time if it is GNU time (it understands -f %M -o FILE), else None."""
    path = "/usr/bin/time"
    if not os.access(path, os.X_OK):
        return None
    with tempfile.NamedTemporaryFile("r") as out:
        try:
            subprocess.run([path, "-f", "%M", "-o", out.name, "true"], check=True, capture_output=True)
            return path if _last_int(out.read()) > 0 else None
        except (OSError, subprocess.CalledProcessError, ValueError):
            return None


def _launcher(rss_file: str) -> list[str]:
    gnu = _gnu_time()
    if gnu:
        return [gnu, "-f", "%M", "-o", rss_file]
    return [sys.executable, "-S", "-c", _WRAPPER, rss_file]


def launcher_name() -> str:
    return "GNU /usr/bin/time -f %M" if _gnu_time() else "python -S wrapper around os.wait4"


def _last_int(text: str) -> int:
    """The last line as an int (GNU time puts 'Command exited with non-zero status N' first)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return int(lines[-1]) if lines else 0


class _TreeSampler:
    """Polls /proc for the summed PSS of a process and its descendants; keeps the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_pss_kb(p) for p in _tree(self.pid)))
            self._stop.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (via /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


# ---------------------------------------------------------------------------- statistics


def median(values) -> float:
    return statistics.median(values)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def mb(kb: float) -> float:
    return kb / 1024


# ---------------------------------------------------------------------------- the machine


def machine() -> dict:
    """What the numbers were measured on (no heavy imports: versions come from package metadata)."""
    info: dict[str, object] = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor() or "unknown"
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    info["logical cores"] = os.cpu_count()
    try:
        info["usable cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        info["memory"] = f"{int(meminfo['MemTotal'].split()[0]) / 1024**2:.1f} GiB"
    except (OSError, KeyError, ValueError):
        pass
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    for package in ("numpy", "pillow", "tensorflow", "keras", "typer", "rich", "digitcli"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    try:
        import numpy

        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy BLAS"] = f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # the layout of show_config differs between NumPy versions
        pass
    # Settings that change the numbers: BLAS threads, and whether Python may cache bytecode
    # (with PYTHONDONTWRITEBYTECODE an editable install recompiles its own modules on every start).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONDONTWRITEBYTECODE"):
        info[f"${name}"] = os.environ.get(name, "not set")
    return info


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def git_revision(repo: Path) -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
