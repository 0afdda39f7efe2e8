"""Model files: the only module that writes them (atomically) and reads them (without running code).

A digitcli model file is an `.npz` archive of plain float32 arrays `layer{i}.weights` and
`layer{i}.bias` plus `metadata`, a JSON string. NumPy reads it with `allow_pickle=False`, so a
file can hold data but never code. `.keras` files (e.g. from `digitcli export`) are read the same
careful way: their JSON config is checked against the one architecture we know, and only the
weight arrays are taken from the HDF5 part; no Keras deserialisation runs.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitcli import files

from digitcli.network import npy
from digitcli.errors import ModelError
from digitcli.network.infer import ACTIVATIONS, Layer, Network

FORMAT = "digitcli-model"
FORMAT_VERSION = 1
INPUTS = 784
CLASSES = 10


# ---------------------------------------------------------------------------- writing


def save(network: Network, path: Path) -> None:
    """Write `network` and its metadata to `path` (an `.npz` model file), atomically."""
    arrays = _arrays(network)
    # Not compressed: float weights shrink by only 8%, and inflating them cost 20 ms of every start.
    files.atomic_write(path, lambda f: np.savez(f, **arrays))


def _arrays(network: Network) -> dict[str, np.ndarray]:
    """The named arrays of a model file: metadata, layers and the unsure policy."""
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
    return arrays


def save_keras(keras_model, path: Path, network: Network | None = None) -> None:
    """Save a Keras model to a `.keras` file atomically (Keras itself writes in place).

    With `network`, its metadata (input scaling, calibration) and unsure policy go along as
    `.npy` members under `digitcli/` in the zip: Keras ignores them, `load` reads them back.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path}: a Keras model file must end in .keras")
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    with files.writing(path), tempfile.TemporaryDirectory(dir=folder, prefix=".export.") as tmp:
        staged = Path(tmp) / path.name
        keras_model.save(staged)
        if network is not None:
            extras = {name: array for name, array in _arrays(network).items()
                      if not name.startswith("layer")}
            with zipfile.ZipFile(staged, "a") as archive:
                for name, array in extras.items():
                    with archive.open(f"{KERAS_EXTRAS}{name}.npy", "w") as member:
                        np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
        files.atomic_write(path, lambda f: f.write(staged.read_bytes()))


def architecture(network: Network) -> dict:
    """The architecture as recorded in metadata and shown by `inspect`."""
    return {
        "inputs": int(network.layers[0].weights.shape[0]),
        "layers": [{"units": l.units, "activation": l.activation} for l in network.layers],
    }


# ---------------------------------------------------------------------------- reading

# Limits checked from the zip directory and the array headers, before anything is inflated.
# The bundled model is 2.4 MB; these leave room for much bigger networks, not for attacks.
MAX_FILE_BYTES = 1 << 31
MAX_ARRAY_BYTES = 1 << 30  # all the weights a declared architecture may have
MAX_METADATA_CHARS = 1_000_000
MAX_CONFIG_BYTES = 1 << 20  # a .keras file's config.json
MAX_EXPANSION = 100  # float weights deflate ~1.1:1; a zip bomb of zeros ~1000:1
MAX_LOGIT = 1e30  # float32 overflows at 3.4e38; keep far below it
NPY_HEADER_BYTES = 65536 + 16  # the largest .npy version-1 header, with its preamble
KERAS_EXTRAS = "digitcli/"  # folder of digitcli's own members inside an exported .keras zip
NO_EXTRAS_WARNING = ("has no calibration and no unsure policy (not exported by digitcli): "
                     "every picture gets a digit, pictures of non-digits too")


def load(path: Path) -> Network:
    """Read a model file (`.npz` from digitcli, or a `.keras` file of the same architecture).

    Every failure, however the file was crafted, is a ModelError: names, sizes, shapes and
    types are checked from the zip directory and the array headers before any array is read,
    and only the members the format names are ever read.
    """
    path = Path(path)
    with files.open_regular(path, ModelError) as f:
        try:
            return _load_open(path, f)
        except ModelError:
            raise
        except Exception as exc:  # a malformed file is not a bug in digitcli; Ctrl-C still ends it
            detail = " ".join(str(exc).split())[:200]  # one line, however the library put it
            raise ModelError(f"{path}: damaged model file ({type(exc).__name__}: {detail})") from None


def _load_open(path: Path, f: BinaryIO) -> Network:
    size = os.fstat(f.fileno()).st_size
    if size > MAX_FILE_BYTES:
        raise ModelError(f"{path}: is {size / 1e6:.0f} MB, more than the "
                         f"{MAX_FILE_BYTES / 1e6:.0f} MB a model file may have")
    if not zipfile.is_zipfile(f):
        raise ModelError(f"{path}: not a digitcli model file (damaged, or another format)")
    with zipfile.ZipFile(f) as archive:
        names = set(archive.namelist())
        if "config.json" in names and "model.weights.h5" in names:
            return _load_keras(path, archive)
        return _load_npz(path, archive)


def _load_npz(path: Path, archive: zipfile.ZipFile) -> Network:
    if "metadata.npy" not in archive.namelist():
        raise ModelError(f"{path}: not a digitcli model file (no metadata)")
    metadata = _metadata(path, archive, "")
    spec = metadata.get("architecture")
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list) or \
            not all(isinstance(layer, dict) for layer in spec["layers"]):
        raise ModelError(f"{path}: damaged model file (the architecture is not a list of layers)")
    if spec.get("inputs", INPUTS) != INPUTS:
        raise ModelError(f"{path}: not a 784→…→10 digit network")
    shapes = _declared(path, [(layer.get("units"), layer.get("activation")) for layer in spec["layers"]])
    layers = [
        _checked_layer(path, _read_array(path, archive, f"layer{i}.weights", shape, f"layer {i}"),
                       _read_array(path, archive, f"layer{i}.bias", shape[1:], f"layer {i}"),
                       activation)
        for i, (shape, activation) in enumerate(shapes)
    ]
    return _network(path, archive, layers, metadata, "")


def _network(path: Path, archive: zipfile.ZipFile, layers: list[Layer], metadata: dict,
             prefix: str) -> Network:
    """The network from its layers and digitcli's metadata; refused if it could give NaN."""
    network = Network(tuple(layers), _input_scale(path, metadata), metadata,
                      _temperature(path, metadata), _unsure_policy(path, archive, prefix))
    _check_magnitudes(path, network)
    return network


def _metadata(path: Path, archive: zipfile.ZipFile, prefix: str) -> dict:
    """digitcli's metadata, capped in size and checked for format and version."""
    text = _read_array(path, archive, "metadata", (), "metadata", prefix)
    metadata = _parse_json(path, str(text), "metadata")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelError(f"{path}: not a digitcli model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version!r} is not supported by this digitcli "
            f"(it reads version {FORMAT_VERSION}); upgrade digitcli or retrain the model"
        )
    return metadata


def _parse_json(path: Path, text: str | bytes, what: str):
    try:
        return json.loads(text)
    except RecursionError:
        raise ModelError(f"{path}: damaged model file ({what} is nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path}: damaged model file ({what} is not valid JSON)") from None


def _declared(path: Path, specs: list) -> list[tuple[tuple[int, int], str]]:
    """Each layer's weight shape and activation from (units, activation) pairs, checked to be a
    784→…→10 network of bounded size before any array is read."""
    if len(specs) < 2:
        raise ModelError(f"{path}: damaged model file (fewer than 2 layers)")
    shapes, inputs, total = [], INPUTS, 0
    for i, (units, activation) in enumerate(specs):
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ModelError(f"{path}: damaged model file (layer {i} has {units!r} units)")
        if activation not in ACTIVATIONS:
            raise ModelError(f"{path}: unsupported activation {activation!r}")
        shapes.append(((inputs, units), activation))
        total += (inputs + 1) * units * 4
        inputs = units
    if inputs != CLASSES:
        raise ModelError(f"{path}: not a 784→…→10 digit network")
    if shapes[-1][1] != "linear":
        raise ModelError(f"{path}: the last layer must output logits (linear activation)")
    if total > MAX_ARRAY_BYTES:
        raise ModelError(f"{path}: declares {total / 1e6:.0f} MB of weights, more than the "
                         f"{MAX_ARRAY_BYTES / 1e6:.0f} MB limit")
    return shapes


def _check_member(path: Path, info: zipfile.ZipInfo, limit: int, what: str) -> None:
    """Refuse, from the zip directory alone, a member bigger than `limit` or a zip bomb."""
    if info.file_size > (1 << 20) and info.file_size > MAX_EXPANSION * info.compress_size:
        raise ModelError(f"{path}: damaged model file ({what}: {info.filename} inflates "
                         f"{info.compress_size} bytes to {info.file_size / 1e6:.0f} MB, a zip bomb)")
    if info.file_size > limit:
        raise ModelError(f"{path}: damaged model file ({what}: {info.filename} declares "
                         f"{info.file_size / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB it can need)")


def _read_array(path: Path, archive: zipfile.ZipFile, name: str, shape: tuple, what: str,
                prefix: str = "") -> np.ndarray:
    """Member `name` as an array of `shape` (a range: any length in it), checked from the zip
    directory and the .npy header before its data is read.

    Only real floats are read, and the metadata string.
    """
    member = f"{prefix}{name}.npy"
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ModelError(f"{path}: damaged model file ({what}: {name} is missing)") from None
    text = name == "metadata"
    largest = tuple(s.stop - 1 if isinstance(s, range) else s for s in shape)
    limit = NPY_HEADER_BYTES + (4 * MAX_METADATA_CHARS if text else 8 * int(np.prod(largest)))
    _check_member(path, info, limit, what)
    with archive.open(info) as stream:
        try:
            found, fortran, dtype = npy.read_header(stream)
        except ValueError as exc:
            raise ModelError(f"{path}: damaged model file ({name}: {exc})") from None
        if dtype.hasobject:
            raise ModelError(f"{path}: holds pickled Python objects; refusing to load it")
        if dtype.kind != ("U" if text else "f"):
            raise ModelError(f"{path}: damaged model file ({what}: {name} holds {dtype} values, "
                             f"not {'text' if text else 'real floats'})")
        if len(found) != len(shape) or not all(
                n in s if isinstance(s, range) else n == s for n, s in zip(found, shape)):
            expected = ", ".join(f"≤{s.stop - 1}" if isinstance(s, range) else str(s) for s in shape)
            raise ModelError(f"{path}: damaged model file ({what}: {name} has shape {found}, "
                             f"expected ({expected}))")
        size = int(np.prod(found)) * dtype.itemsize
        if text and size > 4 * MAX_METADATA_CHARS:
            raise ModelError(f"{path}: damaged model file (metadata is more than "
                             f"{MAX_METADATA_CHARS} characters)")
        data = stream.read(size)
        if len(data) != size:
            raise ModelError(f"{path}: damaged model file ({what}: {name} is truncated)")
    return np.frombuffer(data, dtype).reshape(found, order="F" if fortran else "C")


def _input_scale(path: Path, metadata: dict) -> float:
    scale = metadata.get("input_scale", 1 / 255)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or \
            not 0 < scale < float(np.finfo(np.float32).max):
        raise ModelError(f"{path}: damaged model file (input_scale {scale!r} is not a positive number)")
    return float(scale)


def _temperature(path: Path, metadata: dict) -> float:
    calibration = metadata.get("calibration") or {}
    if not isinstance(calibration, dict):
        raise ModelError(f"{path}: damaged model file (calibration is not an object)")
    temperature = calibration.get("temperature", 1.0)
    # Below 1e-3 the scaled logits could overflow the softmax; fitted values are near 1.
    if not isinstance(temperature, (int, float)) or not 1e-3 <= temperature < 1e3:
        raise ModelError(f"{path}: damaged model file (calibration temperature {temperature!r})")
    return float(temperature)


def _unsure_policy(path: Path, archive: zipfile.ZipFile, prefix: str):
    """The fitted unsure policy, or None for models trained without a validation split."""
    if not any(name.startswith(f"{prefix}unsure.") for name in archive.namelist()):
        return None
    from digitcli.network.rejection import SIGNALS, UnsurePolicy

    shapes = {"unsure.mean": (INPUTS,), "unsure.components": (range(INPUTS + 1), INPUTS),
              "unsure.centre": (len(SIGNALS),), "unsure.spread": (len(SIGNALS),),
              "unsure.threshold": (1,)}
    arrays = {name: _read_array(path, archive, name, shape, "unsure policy", prefix)
              for name, shape in shapes.items()}
    try:
        return UnsurePolicy.from_arrays(arrays, INPUTS)
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelError(f"{path}: damaged model file (unsure policy: {exc})") from None


def _check_magnitudes(path: Path, network: Network) -> None:
    """Refuse finite weights that would still overflow float32 for some picture (NaN "answers").

    Layer by layer |a| ≤ |x| @ |W| + |b| (ReLU only shrinks), so starting from every pixel at
    255 bounds every value the forward pass (and the unsure policy's projection) can reach.
    """
    bound = np.full(INPUTS, 255.0 * network.input_scale)
    for layer in network.layers:
        bound = bound @ np.abs(layer.weights.astype(np.float64)) + np.abs(layer.bias)
    if not bound.max() < MAX_LOGIT:
        raise ModelError(f"{path}: weights or input_scale so large that the logits could reach "
                         f"{bound.max():.2g} and overflow; refusing a model that would answer NaN")
    policy = network.unsure
    if policy is not None:
        centred = 255.0 * network.input_scale + np.abs(policy.mean.astype(np.float64))
        components = np.abs(policy.components.astype(np.float64))
        residual = centred + (centred @ components.T) @ components
        if not (residual * residual).sum() < MAX_LOGIT:
            raise ModelError(f"{path}: damaged model file (unsure policy: values so large "
                             f"that its scores would overflow)")


def _load_keras(path: Path, archive: zipfile.ZipFile) -> Network:
    """Take the weights out of a `.keras` file without running any Keras code.

    The architecture comes from config.json, and the weight datasets are checked against it
    before they are read. digitcli's own metadata and unsure policy, when `export` wrote them,
    are read from the `digitcli/` members as from an `.npz` model file.
    """
    config_info = archive.getinfo("config.json")
    _check_member(path, config_info, MAX_CONFIG_BYTES, "config")
    shapes = _declared(path, _dense_specs(path, _parse_json(path, archive.read(config_info), "config.json")))
    weights_info = archive.getinfo("model.weights.h5")
    declared = sum((a + 1) * b for (a, b), _ in shapes) * 8
    # Room for HDF5's own structure and a saved optimizer's state (Adam keeps two more copies).
    _check_member(path, weights_info, 4 * declared + (16 << 20), "weights")
    weights_h5 = archive.read(weights_info)
    import h5py  # only needed for .keras files; keeps the common path light

    layers = []
    with h5py.File(io.BytesIO(weights_h5), "r") as h5:
        for index, ((rows, units), activation) in enumerate(shapes):
            # Keras names weight groups by class and position, not by the layer's own name.
            group = f"layers/dense{'_' + str(index) if index else ''}/vars"
            weights = _h5_array(path, h5, f"{group}/0", (rows, units))
            bias = _h5_array(path, h5, f"{group}/1", (units,))
            layers.append(_checked_layer(path, weights, bias, activation))
    if f"{KERAS_EXTRAS}metadata.npy" in archive.namelist():
        return _network(path, archive, layers, _metadata(path, archive, KERAS_EXTRAS), KERAS_EXTRAS)
    metadata = {"source": f"Keras file {path.name}", "warning": NO_EXTRAS_WARNING}
    return _network(path, archive, layers, metadata, KERAS_EXTRAS)


def _h5_array(path: Path, h5, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A dataset of the expected shape and a float type, read only once both are checked."""
    import h5py

    link = h5.get(name, getlink=True)
    if link is None:
        raise ModelError(f"{path}: damaged .keras file ({name} is missing)")
    if not isinstance(link, h5py.HardLink):  # soft and external links point outside
        raise ModelError(f"{path}: damaged .keras file ({name} is a link)")
    dataset = h5[name]
    if not isinstance(dataset, h5py.Dataset) or dataset.external or dataset.is_virtual:
        raise ModelError(f"{path}: damaged .keras file ({name} is not a plain dataset)")
    if dataset.shape != shape or dataset.dtype.kind != "f":
        raise ModelError(f"{path}: damaged .keras file ({name} is {dataset.dtype} of shape "
                         f"{dataset.shape}, expected float of shape {shape})")
    return dataset[()]


def _dense_specs(path: Path, config) -> list[tuple]:
    """(units, activation) of each Dense layer, in order; any other kind of layer is refused."""
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        raise ModelError(f"{path}: only Sequential models of Dense layers can be loaded")
    layers = config.get("config")
    layers = layers.get("layers") if isinstance(layers, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise ModelError(f"{path}: damaged .keras file (config.json has no list of layers)")
    specs = []
    for layer in layers:
        kind, cfg = layer.get("class_name"), layer.get("config")
        if kind == "InputLayer":
            continue
        if kind != "Dense":
            raise ModelError(
                f"{path}: has a {kind} layer; only Dense layers are loaded"
                + (" (a Lambda layer holds code)" if kind == "Lambda" else "")
            )
        if not isinstance(cfg, dict):
            raise ModelError(f"{path}: damaged .keras file (a Dense layer has no config)")
        specs.append((cfg.get("units"), cfg.get("activation")))
    return specs


def _checked_layer(path: Path, weights: np.ndarray, bias: np.ndarray, activation: str) -> Layer:
    """The layer in float32; finiteness is checked after the cast (1e300 becomes inf)."""
    with np.errstate(over="ignore"):
        weights, bias = weights.astype(np.float32), bias.astype(np.float32)
    if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        raise ModelError(f"{path}: damaged model file (weights are not finite float32 numbers)")
    return Layer(weights, bias, activation)


BUNDLED_NAME = "digitcli-mnist.npz"


def bundled_model_path() -> Path:
    """The model shipped with digitcli: inside the package when installed from a wheel,
    in the checkout's `models/` folder when installed in editable mode."""
    package = Path(__file__).resolve().parents[1]  # digitcli/, above network/
    for folder in (package / "models", package.parent / "models"):
        if (folder / BUNDLED_NAME).is_file():
            return folder / BUNDLED_NAME
    return package / "models" / BUNDLED_NAME
