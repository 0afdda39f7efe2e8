"""One training run: data in, a model file out (with everything needed to reproduce it)."""

from __future__ import annotations

import platform
import shlex
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from digitcli import __version__, data, store
from digitcli.config import TrainConfig
from digitcli.errors import UsageError
from digitcli.infer import Network
from digitcli.metrics import Evaluation, evaluate

HOLDOUT = 0.1  # share of a single-split source (CSV, image folder) kept aside as its test set


@dataclass(frozen=True)
class TrainResult:
    network: Network
    evaluation: Evaluation
    history: list[dict]
    seconds: float
    out: Path


def check_output(out: Path) -> None:
    """Fail before training, not after, when `out` cannot or must not be written."""
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give a file name for the model (e.g. {out}/model.npz)")
    if out.exists():
        try:
            store.load(out)
        except Exception:
            raise UsageError(
                f"{out}: exists and is not a digitcli model; refusing to overwrite it"
            ) from None
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and not _writable(folder):
        raise UsageError(f"{folder}: folder is not writable")


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK | os.X_OK)


def split_sets(source: data.Source, seed: int):
    """(train, test) arrays: the source's own split, or a seeded holdout for single-split sources."""
    train = source.load("train")
    if source.has_splits:
        test = source.load("test")
        return (train.x, train.y), (test.x, test.y), train.source
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train.y))
    n_test = max(1, int(round(len(order) * HOLDOUT)))
    test_rows, train_rows = order[:n_test], order[n_test:]
    return (train.x[train_rows], train.y[train_rows]), (train.x[test_rows], train.y[test_rows]), train.source


def run(source_arg: str | None, config: TrainConfig, out: Path, *, on_epoch=None) -> TrainResult:
    """Train on `source_arg`, evaluate on its held-out test set, save atomically to `out`."""
    from digitcli import model  # TensorFlow: imported only now that we really train

    check_output(out)
    source = data.open_source(source_arg)
    (x, y), (x_test, y_test), description = split_sets(source, config.seed)
    validation = None
    if config.validation_split:
        rng = np.random.default_rng(config.seed + 1)
        order = rng.permutation(len(y))
        n_val = int(round(len(y) * config.validation_split))
        if n_val < 1 or n_val >= len(y):
            raise UsageError(f"--validation-split {config.validation_split} leaves no data to use")
        validation = (x[order[:n_val]], y[order[:n_val]])
        x, y = x[order[n_val:]], y[order[n_val:]]

    started = time.perf_counter()
    network, history = model.train(x, y, config, validation=validation, on_epoch=on_epoch)
    seconds = time.perf_counter() - started
    evaluation = evaluate(network, x_test, y_test)
    metadata = {
        "training": config.as_dict(),
        "data": {
            "source": description,
            "train_count": int(len(y)),
            "validation_count": 0 if validation is None else int(len(validation[1])),
            "fingerprint_sha256": data.fingerprint(x, y),
        },
        "metrics": {
            "test_accuracy": evaluation.accuracy,
            "test_loss": evaluation.loss,
            "test_count": evaluation.count,
            "final_train_loss": history[-1].get("loss") if history else None,
        },
        "history": history,
        "seconds": round(seconds, 1),
        "versions": _versions(model),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["digitcli", *sys.argv[1:]]),
    }
    network = replace(network, metadata=metadata)
    store.save(network, out)
    return TrainResult(network, evaluation, history, seconds, out)


def _versions(model_module) -> dict:
    keras = model_module.import_keras()
    import tensorflow as tf

    return {
        "digitcli": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }

