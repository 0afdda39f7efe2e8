"""Opening the files users name, safely: only regular files, never a FIFO or a device, and
bounded reads; and naming the file when a write fails (a full disk is not a bug)."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
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
