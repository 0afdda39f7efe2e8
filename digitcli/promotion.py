"""Deploying a trained model safely: one run per target at a time, a gate, and a way back.

The deployed file is only ever replaced by a rename of a complete file in the same folder, so
readers see the old model or the new one, and a crash at any point leaves one of them in place.
The model it replaces is kept beside it as `NAME.previous.npz` for `digitcli rollback`.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitcli import store
from digitcli.errors import DigitcliError, ExitCode, ModelError


class LockedError(DigitcliError):
    exit_code = ExitCode.LOCKED


@contextmanager
def locked(target: Path):
    """Hold an exclusive lock on `target` (via `target.lock`) for the whole run, or fail at once."""
    lock_path = target.with_name(target.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
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
        handle.write(f"pid {os.getpid()}")
        handle.flush()
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
        current = target.read_bytes()
        store.atomic_write(previous_path(target), lambda f: f.write(current))
    os.replace(candidate, target)
    store.fsync_folder(target.parent)


def rollback(target: Path) -> Path:
    """Swap the deployed model with the previous one (running it twice rolls forward again)."""
    previous = previous_path(target)
    if not previous.exists():
        raise ModelError(f"{target}: no previous model ({previous.name}) to roll back to")
    store.load(previous)  # never deploy a damaged file
    current = target.read_bytes() if target.exists() else None
    swap = target.with_name(f".{target.name}.rollback")
    if current is not None:
        store.atomic_write(swap, lambda f: f.write(current))
    os.replace(previous, target)
    if current is not None:
        os.replace(swap, previous)
    store.fsync_folder(target.parent)
    return previous
