"""Deploying a trained model safely: one run per target at a time, a gate, and a way back.

The deployed file is only ever replaced by a rename of a complete file in the same folder, so
readers see the old model or the new one, and a crash at any point leaves one of them in place.
The model it replaces is kept beside it as `NAME.previous.npz` for `digitcli rollback`.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitcli import files

from digitcli.network import store
from digitcli.errors import DigitcliError, ExitCode, ModelError


class LockedError(DigitcliError):
    exit_code = ExitCode.LOCKED


@contextmanager
def locked(target: Path):
    """Hold an exclusive lock on `target` (via `target.lock`) for the whole run, or fail at once."""
    lock_path = target.with_name(target.name + ".lock")
    with files.writing(lock_path, "lock file"):
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"{target}: locked by another training run ({holder}); try again when it ends"
            ) from None
        handle.seek(0)
        handle.truncate()
        try:  # unbuffered, so a full disk fails here once and not again at close
            os.write(handle.fileno(), f"pid {os.getpid()}".encode())
        except OSError:
            pass  # the pid only makes a second run's message clearer; the flock is the lock
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def previous_path(target: Path) -> Path:
    return target.with_name(f"{_stem(target)}.previous.npz")


def candidate_path(target: Path) -> Path:
    """Where a candidate for `target` is written: beside it, named by its UTC creation time."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return target.with_name(f"{_stem(target)}.candidate-{stamp}.npz")


def _stem(target: Path) -> str:
    return target.name[: -len(".npz")] if target.name.endswith(".npz") else target.name


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str]  # why not, one per failed check
    deployed_accuracy: float | None  # the current model's accuracy on the same test data


def decide(candidate_accuracy: float, deployed_accuracy: float | None, *,
           fail_under: float | None, require_better: bool) -> Decision:
    """Apply the gate: an absolute floor and/or beating the deployed model on the same data."""
    reasons = []
    if fail_under is not None and candidate_accuracy < fail_under:
        reasons.append(f"accuracy {candidate_accuracy:.2%} is below --fail-under {fail_under:.2%}")
    if require_better and deployed_accuracy is not None and candidate_accuracy <= deployed_accuracy:
        reasons.append(
            f"accuracy {candidate_accuracy:.2%} is not better than the deployed model's "
            f"{deployed_accuracy:.2%}"
        )
    return Decision(not reasons, reasons, deployed_accuracy)


def promote(candidate: Path, target: Path) -> None:
    """Make `candidate` the deployed model at `target`, keeping the old one as `.previous`."""
    if target.exists():
        _copy(target, previous_path(target))
    _rename(candidate, target)


def rollback(target: Path) -> Path:
    """Swap the deployed model with the previous one (running it twice rolls forward again).

    `target` always holds a complete model: a copy of it is staged first, the previous model is
    renamed over it, and the staged copy becomes the previous one. A crash between the two renames
    leaves the staged copy as the only copy of the replaced model; `recover` finishes the swap.
    Call it under `locked(target)`.
    """
    if recover(target):
        return previous_path(target)  # the interrupted rollback is now complete: not a second swap
    previous = previous_path(target)
    reason = files.not_regular(previous)
    if reason == "no such file":
        raise ModelError(f"{target}: no previous model ({previous.name}) to roll back to")
    if reason:
        raise ModelError(f"{previous}: {reason}; cannot roll back to it")
    store.load(previous)  # never deploy a damaged file
    swap = _staging_path(target)
    current = target.exists()
    if current:
        _copy(target, swap)
    _rename(previous, target)
    if current:
        _rename(swap, previous)
    return previous


def recover(target: Path) -> bool:
    """Finish what a killed `promote` or `rollback` of `target` left; True if it finished a rollback.

    Only this module writes the staging file, and only under the target's lock (which the caller
    holds), so no other process can be writing it or the temporary files removed here.
    """
    stem = glob.escape(_stem(target))
    for name in (target, previous_path(target), _staging_path(target)):
        files.remove_stale_temps(name)
    files.remove_stale_temps(target, f"{stem}.candidate-*.npz")
    swap, previous = _staging_path(target), previous_path(target)
    if not swap.exists():
        return False
    if previous.exists():  # killed before the previous model moved: the copy is not needed
        swap.unlink()
        return False
    _rename(swap, previous)  # killed between the two renames: the staged copy is the only one
    return True


def _staging_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.rollback")


def _copy(source: Path, destination: Path) -> None:
    """Copy a model file atomically, refusing a FIFO or device (reading one would hang)."""
    with files.open_regular(source, ModelError) as f:
        files.atomic_write(destination, lambda out: shutil.copyfileobj(f, out))


def _rename(source: Path, destination: Path) -> None:
    with files.writing(destination):
        os.replace(source, destination)
        files.fsync_folder(destination.parent)  # before the next rename: keep their order on disk
