"""Model files: the only module that writes them (atomically) and reads them (without running code).

A digitcli model file is an `.npz` archive of plain float32 arrays `layer{i}.weights` and
`layer{i}.bias` plus `metadata`, a JSON string. NumPy reads it with `allow_pickle=False`, so a
file can hold data but never code. `.keras` files (e.g. from `digitcli export`) are read the same
careful way: their JSON config is checked against the one architecture we know, and only the
weight arrays are taken from the HDF5 part; no Keras deserialisation runs.
"""

from __future__ import annotations

import glob
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitcli import files
from digitcli.errors import ModelError
from digitcli.infer import ACTIVATIONS, Layer, Network

FORMAT = "digitcli-model"
FORMAT_VERSION = 1
INPUTS = 784
CLASSES = 10
TEMP_SUFFIX = ".tmp"  # of atomic_write's temporary files: `.NAME.XXXXXXXX.tmp`


# ---------------------------------------------------------------------------- writing


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` so that readers see the old file or the new one, never a mix.

    The data goes to a temporary file in the same folder (so `os.replace` is a rename on one
    file system), is flushed and fsynced, and only then replaces the target.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    with files.writing(path):  # a full disk names the file (exit 10) instead of looking like a bug
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


def save(network: Network, path: Path) -> None:
    """Write `network` and its metadata to `path` (an `.npz` model file), atomically."""
    metadata = dict(network.metadata or {})
    metadata.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        architecture=architecture(network),
        input_scale=network.input_scale,
    )
    if network.temperature != 1.0:
        metadata.setdefault("calibration", {})["temperature"] = network.temperature
    arrays = {"metadata": np.array(json.dumps(metadata, sort_keys=True))}
    for i, layer in enumerate(network.layers):
        arrays[f"layer{i}.weights"] = layer.weights.astype(np.float32)
        arrays[f"layer{i}.bias"] = layer.bias.astype(np.float32)
    if network.unsure is not None:
        arrays.update(network.unsure.to_arrays())
    # Not compressed: float weights shrink by only 8%, and inflating them cost 20 ms of every start.
    atomic_write(path, lambda f: np.savez(f, **arrays))


def save_keras(keras_model, path: Path) -> None:
    """Save a Keras model to a `.keras` file atomically (Keras itself writes in place)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path}: a Keras model file must end in .keras")
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    with files.writing(path), tempfile.TemporaryDirectory(dir=folder, prefix=".export.") as tmp:
        staged = Path(tmp) / path.name
        keras_model.save(staged)
        atomic_write(path, lambda f: f.write(staged.read_bytes()))


def architecture(network: Network) -> dict:
    """The architecture as recorded in metadata and shown by `inspect`."""
    return {
        "inputs": int(network.layers[0].weights.shape[0]),
        "layers": [{"units": l.units, "activation": l.activation} for l in network.layers],
    }


# ---------------------------------------------------------------------------- reading


def load(path: Path) -> Network:
    """Read a model file (`.npz` from digitcli, or a `.keras` file of the same architecture)."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror})") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelError(f"{path}: not a digitcli model file (damaged, or another format)")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        if "config.json" in names and "model.weights.h5" in names:
            return _load_keras(path, archive)
    return _load_npz(path, data)


def _load_npz(path: Path, data: bytes) -> Network:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelError(f"{path}: holds pickled Python objects; refusing to load it") from None
        raise ModelError(f"{path}: damaged model file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{path}: damaged model file ({exc})") from None
    if "metadata" not in arrays:
        raise ModelError(f"{path}: not a digitcli model file (no metadata)")
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError:
        raise ModelError(f"{path}: damaged model file (metadata is not valid JSON)") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelError(f"{path}: not a digitcli model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version!r} is not supported by this digitcli "
            f"(it reads version {FORMAT_VERSION}); upgrade digitcli or retrain the model"
        )
    layer_specs = metadata.get("architecture", {}).get("layers", [])
    layers = []
    for i, spec in enumerate(layer_specs):
        try:
            weights, bias = arrays[f"layer{i}.weights"], arrays[f"layer{i}.bias"]
        except KeyError:
            raise ModelError(f"{path}: damaged model file (layer {i} is missing)") from None
        layers.append(_checked_layer(path, weights, bias, spec.get("activation")))
    network = Network(tuple(layers), float(metadata.get("input_scale", 1 / 255)), metadata,
                      _temperature(path, metadata), _unsure_policy(path, arrays, layers))
    _check_shapes(path, network)
    return network


def _temperature(path: Path, metadata: dict) -> float:
    temperature = (metadata.get("calibration") or {}).get("temperature", 1.0)
    if not isinstance(temperature, (int, float)) or not 0 < temperature < 1e3:
        raise ModelError(f"{path}: damaged model file (calibration temperature {temperature!r})")
    return float(temperature)


def _unsure_policy(path: Path, arrays: dict, layers: list[Layer]):
    """The fitted unsure policy, or None for models trained without a validation split."""
    if not any(name.startswith("unsure.") for name in arrays):
        return None
    from digitcli.rejection import UnsurePolicy

    try:
        return UnsurePolicy.from_arrays(arrays, int(layers[0].weights.shape[0]))
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelError(f"{path}: damaged model file (unsure policy: {exc})") from None


def _load_keras(path: Path, archive: zipfile.ZipFile) -> Network:
    """Take the weights out of a `.keras` file without running any Keras code."""
    try:
        config = json.loads(archive.read("config.json"))
        weights_h5 = archive.read("model.weights.h5")
    except (json.JSONDecodeError, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ModelError(f"{path}: damaged .keras file ({exc})") from None
    dense = _dense_specs(path, config)
    import h5py  # only needed for .keras files; keeps the common path light

    layers = []
    try:
        with h5py.File(io.BytesIO(weights_h5), "r") as h5:
            for index, activation in enumerate(dense):
                # Keras names weight groups by class and position, not by the layer's own name.
                group = h5[f"layers/dense{'_' + str(index) if index else ''}/vars"]
                weights, bias = np.asarray(group["0"]), np.asarray(group["1"])
                layers.append(_checked_layer(path, weights, bias, activation))
    except (KeyError, OSError, TypeError) as exc:
        raise ModelError(f"{path}: damaged .keras file ({exc})") from None
    metadata = {"source": f"Keras file {path.name}"}
    network = Network(tuple(layers), 1 / 255, metadata)
    _check_shapes(path, network)
    return network


def _dense_specs(path: Path, config: dict) -> list[str]:
    """The activation of each Dense layer, in order; any other kind of layer is refused."""
    if config.get("class_name") != "Sequential":
        raise ModelError(f"{path}: only Sequential models of Dense layers can be loaded")
    specs = []
    for layer in config.get("config", {}).get("layers", []):
        kind, cfg = layer.get("class_name"), layer.get("config", {})
        if kind == "InputLayer":
            continue
        if kind != "Dense":
            raise ModelError(
                f"{path}: has a {kind} layer; only Dense layers are loaded"
                + (" (a Lambda layer holds code)" if kind == "Lambda" else "")
            )
        specs.append(cfg.get("activation"))
    return specs


def _checked_layer(path: Path, weights, bias, activation) -> Layer:
    if activation not in ACTIVATIONS:
        raise ModelError(f"{path}: unsupported activation {activation!r}")
    weights = np.asarray(weights)
    bias = np.asarray(bias)
    if weights.ndim != 2 or bias.shape != (weights.shape[1],):
        raise ModelError(f"{path}: damaged model file (weight shapes {weights.shape}, {bias.shape})")
    if weights.dtype.kind != "f" or not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        raise ModelError(f"{path}: damaged model file (weights are not finite floats)")
    return Layer(weights.astype(np.float32), bias.astype(np.float32), activation)


def _check_shapes(path: Path, network: Network) -> None:
    layers = network.layers
    if len(layers) < 2:
        raise ModelError(f"{path}: damaged model file (fewer than 2 layers)")
    chain_ok = all(a.units == b.weights.shape[0] for a, b in zip(layers, layers[1:]))
    if layers[0].weights.shape[0] != INPUTS or layers[-1].units != CLASSES or not chain_ok:
        raise ModelError(f"{path}: not a 784→…→10 digit network")
    if layers[-1].activation != "linear":
        raise ModelError(f"{path}: the last layer must output logits (linear activation)")


BUNDLED_NAME = "digitcli-mnist.npz"


def bundled_model_path() -> Path:
    """The model shipped with digitcli: inside the package when installed from a wheel,
    in the checkout's `models/` folder when installed in editable mode."""
    package = Path(__file__).resolve().parent
    for folder in (package / "models", package.parent / "models"):
        if (folder / BUNDLED_NAME).is_file():
            return folder / BUNDLED_NAME
    return package / "models" / BUNDLED_NAME


# ---------------------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "digitcli-checkpoint"


def save_checkpoint(path: Path, checkpoint, settings: dict) -> None:
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
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: Path) -> tuple[dict, dict[str, list[np.ndarray]]]:
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
