"""`.keras` files: written through Keras for `digitcli export`, read without any Keras code.

On reading, the JSON config is checked against the one architecture we know, and only the
weight arrays are taken from the HDF5 part; no Keras deserialisation runs.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from digitcli import files

from digitcli.errors import ModelError
from digitcli.network.infer import Network
from digitcli.network.model_format import (assemble, check_member, checked_layer, declared_shapes,
                                           named_arrays, parse_json, read_metadata)

MAX_CONFIG_BYTES = 1 << 20  # a .keras file's config.json
KERAS_EXTRAS = "digitcli/"  # folder of digitcli's own members inside an exported .keras zip
NO_EXTRAS_WARNING = ("has no calibration and no unsure policy (not exported by digitcli): "
                     "every picture gets a digit, pictures of non-digits too")


def save(keras_model, path: Path, network: Network | None = None) -> None:
    """Save a Keras model to a `.keras` file atomically (Keras itself writes in place).

    With `network`, its metadata (input scaling, calibration) and unsure policy go along as
    `.npy` members under `digitcli/` in the zip: Keras ignores them, `read` reads them back.
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
            extras = {name: array for name, array in named_arrays(network).items()
                      if not name.startswith("layer")}
            with zipfile.ZipFile(staged, "a") as archive:
                for name, array in extras.items():
                    with archive.open(f"{KERAS_EXTRAS}{name}.npy", "w") as member:
                        np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
        files.atomic_write(path, lambda f: f.write(staged.read_bytes()))


def read(path: Path, archive: zipfile.ZipFile) -> Network:
    """Take the weights out of a `.keras` file without running any Keras code.

    The architecture comes from config.json, and the weight datasets are checked against it
    before they are read. digitcli's own metadata and unsure policy, when `export` wrote them,
    are read from the `digitcli/` members as from an `.npz` model file.
    """
    config_info = archive.getinfo("config.json")
    check_member(path, config_info, MAX_CONFIG_BYTES, "config")
    shapes = declared_shapes(path, _dense_specs(path, parse_json(path, archive.read(config_info), "config.json")))
    weights_info = archive.getinfo("model.weights.h5")
    declared = sum((a + 1) * b for (a, b), _ in shapes) * 8
    # Room for HDF5's own structure and a saved optimizer's state (Adam keeps two more copies).
    check_member(path, weights_info, 4 * declared + (16 << 20), "weights")
    weights_h5 = archive.read(weights_info)
    import h5py  # only needed for .keras files; keeps the common path light

    layers = []
    with h5py.File(io.BytesIO(weights_h5), "r") as h5:
        for index, ((rows, units), activation) in enumerate(shapes):
            # Keras names weight groups by class and position, not by the layer's own name.
            group = f"layers/dense{'_' + str(index) if index else ''}/vars"
            weights = _h5_array(path, h5, f"{group}/0", (rows, units))
            bias = _h5_array(path, h5, f"{group}/1", (units,))
            layers.append(checked_layer(path, weights, bias, activation))
    if f"{KERAS_EXTRAS}metadata.npy" in archive.namelist():
        return assemble(path, archive, layers, read_metadata(path, archive, KERAS_EXTRAS), KERAS_EXTRAS)
    metadata = {"source": f"Keras file {path.name}", "warning": NO_EXTRAS_WARNING}
    return assemble(path, archive, layers, metadata, KERAS_EXTRAS)


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
