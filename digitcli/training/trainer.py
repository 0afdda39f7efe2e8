"""One training run: data in; a model file, a gate decision and a run record out.

The order matters for unattended runs: take the target's lock first, fail on bad options and
unwritable paths before spending any compute, checkpoint after every epoch, write the model
atomically, and replace a deployed model only after it passed the gate.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from digitcli import __version__, files

from digitcli.network import calibration, rejection, store

from digitcli.training import checkpoints, data, promotion, runrecord
from digitcli.training.augment import AugmentConfig
from digitcli.config import TrainConfig
from digitcli.errors import ModelError, OutputError, UsageError
from digitcli.network.infer import Network
from digitcli.network.metrics import Evaluation, evaluate, logits

HOLDOUT = 0.1  # share of a single-split source (CSV, image folder) kept aside as its test set
CHECKPOINT = "checkpoint.npz"
PROMOTION = "promotion.json"  # in the run folder: the candidate that passed the gate, once deployed
RUNS = Path("runs")
MIN_CALIBRATION = 500  # held-out images needed for a temperature and a 1% tail worth trusting


@dataclass(frozen=True)
class Plan:
    """What `digitcli train` was asked to do."""

    sources: tuple[str | None, ...] = (None,)
    config: TrainConfig = field(default_factory=TrainConfig)
    out: Path | None = None  # the model file (with `promote`: the candidate's name)
    promote: Path | None = None  # the deployed model to replace if the candidate passes
    fail_under: float | None = None
    require_better: bool = False
    init_from: Path | None = None
    run_dir: Path | None = None  # default: a new timestamped folder under runs/
    resume: bool = False


@dataclass(frozen=True)
class Result:
    network: Network
    evaluation: Evaluation
    history: list[dict]
    seconds: float
    model_path: Path  # where the trained model is now
    run_dir: Path
    decision: promotion.Decision | None = None  # None when not promoting
    resumed_from: int = 0  # epochs that an earlier, interrupted run had completed


class NothingToResume(Exception):
    """`--resume` found that the newest matching run already finished: nothing is trained."""


def check_output(out: Path) -> None:
    """Fail before training, not after, when `out` cannot or must not be written."""
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give a file name for the model (e.g. {out}/model.npz)")
    reason = files.not_regular(out)
    if reason not in (None, "no such file"):  # reading a FIFO to check it would hang
        raise UsageError(f"{out}: {reason}; refusing to overwrite it")
    if out.exists():
        try:
            store.load(out)
        except Exception:
            raise UsageError(
                f"{out}: exists and is not a digitcli model; refusing to overwrite it"
            ) from None
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{folder}: folder is not writable")


def load_sets(sources: tuple[str | None, ...], seed: int):
    """Merge every source into (train, test) arrays; sources without a test split lend 10%."""
    trains, tests, names = [], [], []
    for source_arg in sources:
        source = data.open_source(source_arg)
        train = source.load("train")
        names.append(train.source)
        if source.has_splits:
            trains.append((train.x, train.y))
            test = source.load("test")
            tests.append((test.x, test.y))
            continue
        order = np.random.default_rng(seed).permutation(len(train.y))
        n_test = max(1, int(round(len(order) * HOLDOUT)))
        tests.append((train.x[order[:n_test]], train.y[order[:n_test]]))
        trains.append((train.x[order[n_test:]], train.y[order[n_test:]]))
    return _concatenate(trains), _concatenate(tests), names


def _concatenate(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Join (x, y) pairs from several sources into one (x, y)."""
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


def _validation_split(x, y, share: float, seed: int):
    if not share:
        return (x, y), None
    order = np.random.default_rng([seed, 1]).permutation(len(y))
    n_val = int(round(len(y) * share))
    if n_val < 1 or n_val >= len(y):
        raise UsageError(f"--validation-split {share} leaves no data to train or validate on")
    return (x[order[n_val:]], y[order[n_val:]]), (x[order[:n_val]], y[order[:n_val]])


def run(plan: Plan, *, on_epoch=None) -> Result:
    """Carry out `plan`: see the module docstring for the order of things."""
    target = plan.promote or plan.out
    check_output(target)
    if plan.out is not None and plan.promote is not None:
        check_output(plan.out)
    if plan.promote is not None:
        previous = promotion.previous_path(target)
        reason = files.not_regular(previous)
        if reason not in (None, "no such file"):
            raise UsageError(f"{previous}: {reason}; move it away to keep the replaced model there")
    with promotion.locked(target), ExitStack() as run_lock:
        promotion.recover(target)  # a killed promotion, rollback or save of this target
        return _run_locked(plan, target, on_epoch, run_lock)


def _run_locked(plan: Plan, target: Path, on_epoch, run_lock: ExitStack) -> Result:
    from digitcli.training import model  # TensorFlow: imported only now that we really train

    config = plan.config
    reason = files.not_regular(plan.init_from) if plan.init_from else None
    if reason not in (None, "no such file"):  # reading a FIFO would hang
        raise ModelError(f"{plan.init_from}: {reason}")
    init = store.load(plan.init_from) if plan.init_from else None
    if init is not None and init.hidden != config.hidden:
        config = replace(config, hidden=init.hidden)  # fine-tuning keeps the model's shape
    (x, y), (x_test, y_test), names = load_sets(plan.sources, config.seed)
    (x, y), validation = _validation_split(x, y, config.validation_split, config.seed)
    settings = json.loads(json.dumps({  # as a checkpoint stores them, so they compare equal
        "training": config.as_dict(),
        "augmentation": AugmentConfig().as_dict() if config.augment else None,
        "data": names,
        "fingerprint_sha256": data.fingerprint(x, y),
        "init_from": str(plan.init_from) if plan.init_from else None,
    }))
    run_dir, checkpoint = _run_dir_and_checkpoint(plan, settings)
    # One run per folder: under its lock, a checkpoint's temporary file is a killed run's.
    run_lock.enter_context(promotion.locked(run_dir / CHECKPOINT))
    _remove_stale_temps(run_dir)
    _write_start(run_dir, settings, plan, target)

    started = time.perf_counter()
    network, history = model.train(
        x, y, config, validation=validation, init=init, resume=checkpoint, on_epoch=on_epoch,
        on_checkpoint=lambda c: checkpoints.save(run_dir / CHECKPOINT, c, settings),
    )
    seconds = time.perf_counter() - started
    network, calibration_record = calibrate(network, x, validation, x_test, y_test)
    evaluation = evaluate(network, x_test, y_test)
    metadata = _metadata(config, settings, names, x, y, validation, evaluation, history, seconds,
                         model)
    network = replace(network, metadata={**metadata, "calibration": calibration_record})

    decision = None
    if plan.promote is None:
        store.save(network, plan.out)
        model_path = plan.out
    else:
        model_path = plan.out or promotion.candidate_path(target)
        store.save(network, model_path)
        deployed = None
        if plan.require_better and target.exists():
            deployed = evaluate(store.load(target), x_test, y_test).accuracy
        decision = promotion.decide(evaluation.accuracy, deployed, fail_under=plan.fail_under,
                                    require_better=plan.require_better)
        if decision.promote:
            # Recorded before and after the rename, so --resume never deploys this run twice.
            _write_promotion(run_dir, model_path, target, promoted=False)
            promotion.promote(model_path, target)
            _write_promotion(run_dir, model_path, target, promoted=True)
            model_path = target
    result = Result(network, evaluation, history, seconds, model_path, run_dir, decision,
                    checkpoint.epoch if checkpoint else 0)
    _write_record(result, x_test, y_test)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)  # finished: nothing left to resume
    return result


def calibrate(network: Network, x, validation, x_test, y_test) -> tuple[Network, dict]:
    """Fit the temperature and the unsure policy on the validation split (none: leave as is)."""
    if validation is None or len(validation[1]) < MIN_CALIBRATION:
        return network, {"temperature": 1.0, "fitted_on": None, "note": (
            f"not calibrated: needs a validation split of at least {MIN_CALIBRATION} images")}
    x_val, y_val = validation
    temperature = calibration.fit_temperature(logits(network, x_val), y_val)
    policy = rejection.fit(network, x, x_val)
    test = calibration.report(logits(network, x_test), y_test, temperature)
    record = {
        "temperature": temperature,
        "fitted_on": f"validation split ({len(y_val)} images)",
        "test_ece_before": test["ece_before"],
        "test_ece_after": test["ece_after"],
        "unsure_target_rate": rejection.TARGET_REJECTION,
    }
    return replace(network, temperature=temperature, unsure=policy), record


def _run_dir_and_checkpoint(plan: Plan, settings: dict):
    """The run folder, and the checkpoint to resume from when --resume finds a matching one."""
    if not plan.resume:
        return plan.run_dir or new_run_dir(), None
    candidates = [plan.run_dir] if plan.run_dir else sorted(RUNS.glob("*/" + CHECKPOINT), reverse=True)
    for candidate in candidates:
        folder = candidate if plan.run_dir else candidate.parent
        path = folder / CHECKPOINT
        if not path.exists():
            continue
        meta, arrays = checkpoints.load(path)
        if meta["settings"] != settings:
            if plan.run_dir:
                raise UsageError(f"{path}: was made with other settings or data; cannot resume it")
            continue
        promoted = _promoted_at(folder)
        if promoted:  # killed after deploying, before tidying up: finish that, never redeploy
            with promotion.locked(path):
                path.unlink(missing_ok=True)
                _remove_stale_temps(folder)
            raise NothingToResume(f"nothing to resume: the newest matching run {folder} finished "
                                  f"(promoted) at {promoted}")
        (folder / PROMOTION).unlink(missing_ok=True)  # killed before the rename: redone below
        from digitcli.training.model import Checkpoint

        checkpoint = Checkpoint(meta["epoch"], arrays["weights"], arrays["optimizer"],
                                meta["history"], arrays["best"] or None, meta["best_loss"],
                                meta["stale_epochs"])
        print(f"digitcli: resuming {folder} after epoch {checkpoint.epoch}", file=sys.stderr)
        return folder, checkpoint
    print("digitcli: no interrupted run to resume; starting a new one", file=sys.stderr)
    return plan.run_dir or new_run_dir(), None


def _remove_stale_temps(run_dir: Path) -> None:
    """A killed run's temporary files in its folder (call under the folder's lock)."""
    for name in (CHECKPOINT, PROMOTION):
        files.remove_stale_temps(run_dir / name)


def new_run_dir() -> Path:
    """A new, empty runs/<UTC time> (runs/<UTC time>-2, … when runs start in the same second)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with files.writing(RUNS, "run folder"):
        RUNS.mkdir(parents=True, exist_ok=True)
        for suffix in range(1, 10_000):
            folder = RUNS / (stamp if suffix == 1 else f"{stamp}-{suffix}")
            try:
                folder.mkdir()  # exclusive: of two runs racing for one name, only one gets it
                return folder
            except FileExistsError:
                continue
    raise OutputError(f"{RUNS}/{stamp}: 10,000 run folders in one second; give --run-dir")


def _write_promotion(run_dir: Path, candidate: Path, target: Path, *, promoted: bool) -> None:
    record = {"candidate": os.path.abspath(candidate), "target": str(target),
              ("promoted" if promoted else "passed_gate"):
                  datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if not promoted:
        record["note"] = "promoted once the candidate file is gone (renamed to the target)"
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    files.atomic_write(run_dir / PROMOTION, lambda f: f.write(text.encode()))


def _promoted_at(run_dir: Path) -> str | None:
    """When the run in `run_dir` deployed its model, or None if it did not (yet)."""
    path = run_dir / PROMOTION
    if not path.exists():
        return None
    try:
        record = json.loads(files.read_regular(path, UsageError, 1_000_000))
        if "promoted" in record:
            return str(record["promoted"])
        # Killed between the rename and its record: the rename moved the candidate away.
        return None if Path(record["candidate"]).exists() else str(record["passed_gate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: damaged ({exc!r}); cannot tell whether this run deployed its "
                         "model, so it is not resumed") from None


def _write_start(run_dir: Path, settings: dict, plan: Plan, target: Path) -> None:
    with files.writing(run_dir, "run folder"):
        run_dir.mkdir(parents=True, exist_ok=True)
    _record(run_dir / "command.txt", lambda p: p.write_text(_command() + "\n"))
    _record(run_dir / "settings.json", lambda p: runrecord.write_json(p, {
        **settings,
        "target": str(target),
        "promote": plan.promote is not None,
        "fail_under": plan.fail_under,
        "require_better": plan.require_better,
    }))


def _record(path: Path, write) -> None:
    """Write one file of the run record; a full disk names it (exit 10)."""
    with files.writing(path, "run record"):
        write(path)


def _write_record(result: Result, x_test, y_test) -> None:
    folder = result.run_dir
    decision = result.decision
    _record(folder / "metrics.json", lambda p: runrecord.write_json(p, {
        **result.evaluation.as_dict(),
        "seconds": round(result.seconds, 1),
        "epochs_run": len(result.history),
        "resumed_after_epoch": result.resumed_from,
        "model": str(result.model_path),
        "promoted": None if decision is None else decision.promote,
        "gate_failures": None if decision is None else decision.reasons,
        "deployed_accuracy": None if decision is None else decision.deployed_accuracy,
    }))
    _record(folder / "history.csv", lambda p: runrecord.write_history(p, result.history))
    _record(folder / "confusion.csv", lambda p: runrecord.write_confusion(p, result.evaluation))
    _record(folder / "training_curves.png", lambda p: runrecord.plot_curves(p, result.history))
    _record(folder / "confusion.png", lambda p: runrecord.plot_confusion(p, result.evaluation))
    _record(folder / "mistakes.png",
            lambda p: runrecord.plot_mistakes(p, result.network, x_test, y_test))


def _metadata(config, settings, names, x, y, validation, evaluation, history, seconds, model):
    return {
        "training": config.as_dict(),
        "augmentation": settings["augmentation"],
        "init_from": settings["init_from"],
        "data": {
            "source": " + ".join(names),
            "train_count": int(len(y)),
            "validation_count": 0 if validation is None else int(len(validation[1])),
            "fingerprint_sha256": settings["fingerprint_sha256"],
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
        "command": _command(),
    }


def _command() -> str:
    return shlex.join(["digitcli", *sys.argv[1:]])


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
