"""What a digitcli model file holds, and how its members are read without trusting them.

Shared by store.py (`.npz` model files) and keras_file.py (`.keras` files): the named arrays a
Network is written as, the limits, and the checks made from the zip directory and the `.npy`
headers before any data is read.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from digitcli.network import npy
from digitcli.errors import ModelError
from digitcli.network.infer import ACTIVATIONS, Layer, Network

FORMAT = "digitcli-model"
FORMAT_VERSION = 1
INPUTS = 784
CLASSES = 10

# Limits checked from the zip directory and the array headers, before anything is inflated.
# The bundled model is 2.4 MB; these leave room for much bigger networks, not for attacks.
MAX_ARRAY_BYTES = 1 << 30  # all the weights a declared architecture may have
MAX_METADATA_CHARS = 1_000_000
MAX_EXPANSION = 100  # float weights deflate ~1.1:1; a zip bomb of zeros ~1000:1
MAX_LOGIT = 1e30  # float32 overflows at 3.4e38; keep far below it
NPY_HEADER_BYTES = 65536 + 16  # the largest .npy version-1 header, with its preamble


def named_arrays(network: Network) -> dict[str, np.ndarray]:
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


def architecture(network: Network) -> dict:
    """The architecture as recorded in metadata and shown by `inspect`."""
    return {
        "inputs": int(network.layers[0].weights.shape[0]),
        "layers": [{"units": l.units, "activation": l.activation} for l in network.layers],
    }


def assemble(path: Path, archive: zipfile.ZipFile, layers: list[Layer], metadata: dict,
             prefix: str) -> Network:
    """The network from its layers and digitcli's metadata; refused if it could give NaN."""
    network = Network(tuple(layers), _input_scale(path, metadata), metadata,
                      _temperature(path, metadata), _unsure_policy(path, archive, prefix))
    _check_magnitudes(path, network)
    return network


def read_metadata(path: Path, archive: zipfile.ZipFile, prefix: str) -> dict:
    """digitcli's metadata, capped in size and checked for format and version."""
    text = read_array(path, archive, "metadata", (), "metadata", prefix)
    metadata = parse_json(path, str(text), "metadata")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelError(f"{path}: not a digitcli model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version!r} is not supported by this digitcli "
            f"(it reads version {FORMAT_VERSION}); upgrade digitcli or retrain the model"
        )
    return metadata


def parse_json(path: Path, text: str | bytes, what: str):
    try:
        return json.loads(text)
    except RecursionError:
        raise ModelError(f"{path}: damaged model file ({what} is nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path}: damaged model file ({what} is not valid JSON)") from None


def declared_shapes(path: Path, specs: list) -> list[tuple[tuple[int, int], str]]:
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


def check_member(path: Path, info: zipfile.ZipInfo, limit: int, what: str) -> None:
    """Refuse, from the zip directory alone, a member bigger than `limit` or a zip bomb."""
    if info.file_size > (1 << 20) and info.file_size > MAX_EXPANSION * info.compress_size:
        raise ModelError(f"{path}: damaged model file ({what}: {info.filename} inflates "
                         f"{info.compress_size} bytes to {info.file_size / 1e6:.0f} MB, a zip bomb)")
    if info.file_size > limit:
        raise ModelError(f"{path}: damaged model file ({what}: {info.filename} declares "
                         f"{info.file_size / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB it can need)")


def read_array(path: Path, archive: zipfile.ZipFile, name: str, shape: tuple, what: str,
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
    check_member(path, info, limit, what)
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
    arrays = {name: read_array(path, archive, name, shape, "unsure policy", prefix)
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


def checked_layer(path: Path, weights: np.ndarray, bias: np.ndarray, activation: str) -> Layer:
    """The layer in float32; finiteness is checked after the cast (1e300 becomes inf)."""
    with np.errstate(over="ignore"):
        weights, bias = weights.astype(np.float32), bias.astype(np.float32)
    if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        raise ModelError(f"{path}: damaged model file (weights are not finite float32 numbers)")
    return Layer(weights, bias, activation)
