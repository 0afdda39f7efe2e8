"""Training checkpoints: weights, optimizer state and history after each epoch, so that a
killed run can resume (written atomically, read without pickle)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from digitcli import files
from digitcli.errors import ModelError

CHECKPOINT_FORMAT = "digitcli-checkpoint"
FORMAT_VERSION = 1


def save(path: Path, checkpoint, settings: dict) -> None:
    """Write a training checkpoint (weights, optimizer state, history) atomically."""
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "settings": settings,
        "epoch": checkpoint.epoch,
        "history": checkpoint.history,
        "best_loss": checkpoint.best_loss,
        "stale_epochs": checkpoint.stale_epochs,
    }
    arrays = {"metadata": np.array(json.dumps(meta, sort_keys=True))}
    groups = {"weights": checkpoint.weights, "optimizer": checkpoint.optimizer,
              "best": checkpoint.best_weights or []}
    for group, values in groups.items():
        for i, value in enumerate(values):
            arrays[f"{group}.{i:04d}"] = np.asarray(value)
    files.atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path: Path) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Read a checkpoint: (metadata, {"weights": [...], "optimizer": [...], "best": [...]})."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["metadata"]))
            groups: dict[str, list[np.ndarray]] = {"weights": [], "optimizer": [], "best": []}
            for name in sorted(npz.files):
                group = name.split(".")[0]
                if group in groups:
                    groups[group].append(npz[name])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: damaged checkpoint ({exc}); start again without --resume") from None
    if meta.get("format") != CHECKPOINT_FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: not a checkpoint this digitcli can resume from")
    return meta, groups
