"""Opening the files users name, safely: only regular files, never a FIFO or a device, and
bounded reads; naming the file when a write fails (a full disk is not a bug); and writing
atomically, so that readers see the old file or the new one, never a mix."""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import stat
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from digitcli.errors import DigitcliError, OutputError

_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def kind(mode: int) -> str:
    """What a file of this st_mode is, in words ("a regular file", "a named pipe (FIFO)", …)."""
    return "a regular file" if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a file")


def not_regular(path: Path | str) -> str | None:
    """Why `path` cannot be read as a file (missing, a FIFO, a device…), or None when it can.

    Uses stat, which never blocks: opening a FIFO for reading waits for a writer for ever.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISREG(mode):
        return None
    return f"is {kind(mode)}, not a regular file"


def open_regular(path: Path | str, error: type[DigitcliError]) -> BinaryIO:
    """Open a regular file for reading, or raise `error` ("PATH: is a named pipe (FIFO)…").

    The file is opened without blocking and checked on the open descriptor, so a FIFO swapped in
    after a stat still cannot hang the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"{path}: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{path}: is {kind(mode)}, not a regular file")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    # Outside the try: once the file object owns the descriptor, a Ctrl-C landing here must not
    # close it a second time (by then the number may belong to another file).
    return os.fdopen(fd, "rb")


def read_regular(path: Path | str, error: type[DigitcliError], limit: int, what: str = "file") -> bytes:
    """The whole of a regular file of at most `limit` bytes, or raise `error`."""
    with open_regular(path, error) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise error(f"{path}: {what} is {size / 1e6:.0f} MB, more than the {limit / 1e6:.0f} MB limit")
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise error(f"{path}: {what} is more than the {limit / 1e6:.0f} MB limit")
    return data


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    return exc.strerror or str(exc)


@contextmanager
def writing(path: Path | str, what: str = ""):
    """Turn an OSError while writing `path` into an OutputError that names it (exit 10).

    A full disk, a read-only folder or a quota is the machine's state, not a bug in digitcli.
    """
    try:
        yield
    except (OutputError, BrokenPipeError):  # a reader that has gone (`… | head`) is no failure
        raise
    except OSError as exc:
        label = f"{what} {path}" if what else str(path)
        hint = "; free some space and run again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        raise OutputError(f"cannot write {label}: {exc.strerror or exc}{hint}") from None


# ---------------------------------------------------------------------------- atomic writes

TEMP_SUFFIX = ".tmp"  # of atomic_write's temporary files: `.NAME.XXXXXXXX.tmp`


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` so that readers see the old file or the new one, never a mix.

    The data goes to a temporary file in the same folder (so `os.replace` is a rename on one
    file system), is flushed and fsynced, and only then replaces the target.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    with writing(path):  # a full disk names the file (exit 10) instead of looking like a bug
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as tmp:
                write(tmp)
                tmp.flush()
                os.fchmod(tmp.fileno(), _mode_for(path))
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        fsync_folder(folder)


def remove_stale_temps(path: Path, name_glob: str | None = None) -> None:
    """Remove the temporary files that `atomic_write(path)` leaves behind when it is SIGKILLed.

    Call it only while nobody else can be writing `path` (under its lock): a live writer's file
    looks the same. `name_glob` stands for `path.name` to cover a family of names (candidates).
    """
    name = name_glob or glob.escape(Path(path).name)
    # mkstemp puts 8 random characters between prefix and suffix: nothing else has this shape.
    for tmp in Path(path).parent.glob(f".{name}.{'?' * 8}{TEMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)


def _mode_for(path: Path) -> int:
    """Keep a replaced file's permissions; new files get the usual umask-based ones (mkstemp's
    private 0600 would hide a shared model from its other users)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
