"""Model files: with keras_file.py, the only module that writes them (atomically) and reads them
(without running code).

A digitcli model file is an `.npz` archive of plain float32 arrays `layer{i}.weights` and
`layer{i}.bias` plus `metadata`, a JSON string (model_format.py: the members and their checks).
NumPy reads it with `allow_pickle=False`, so a file can hold data but never code. `.keras` files
are read by keras_file.py, the same careful way.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitcli import files

from digitcli.errors import ModelError
from digitcli.network import keras_file
from digitcli.network.infer import Network
from digitcli.network.model_format import (INPUTS, assemble, checked_layer, declared_shapes,
                                           named_arrays, read_array, read_metadata)

MAX_FILE_BYTES = 1 << 31  # the bundled model is 2.4 MB: room for much bigger networks


def save(network: Network, path: Path) -> None:
    """Write `network` and its metadata to `path` (an `.npz` model file), atomically."""
    arrays = named_arrays(network)
    # Not compressed: float weights shrink by only 8%, and inflating them cost 20 ms of every start.
    files.atomic_write(path, lambda f: np.savez(f, **arrays))


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
            return keras_file.read(path, archive)
        return _load_npz(path, archive)


def _load_npz(path: Path, archive: zipfile.ZipFile) -> Network:
    if "metadata.npy" not in archive.namelist():
        raise ModelError(f"{path}: not a digitcli model file (no metadata)")
    metadata = read_metadata(path, archive, "")
    spec = metadata.get("architecture")
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list) or \
            not all(isinstance(layer, dict) for layer in spec["layers"]):
        raise ModelError(f"{path}: damaged model file (the architecture is not a list of layers)")
    if spec.get("inputs", INPUTS) != INPUTS:
        raise ModelError(f"{path}: not a 784→…→10 digit network")
    shapes = declared_shapes(path, [(layer.get("units"), layer.get("activation")) for layer in spec["layers"]])
    layers = [
        checked_layer(path, read_array(path, archive, f"layer{i}.weights", shape, f"layer {i}"),
                      read_array(path, archive, f"layer{i}.bias", shape[1:], f"layer {i}"),
                      activation)
        for i, (shape, activation) in enumerate(shapes)
    ]
    return assemble(path, archive, layers, metadata, "")


BUNDLED_NAME = "digitcli-mnist.npz"


def bundled_model_path() -> Path:
    """The model shipped with digitcli: inside the package when installed from a wheel,
    in the checkout's `models/` folder when installed in editable mode."""
    package = Path(__file__).resolve().parents[1]  # digitcli/, above network/
    for folder in (package / "models", package.parent / "models"):
        if (folder / BUNDLED_NAME).is_file():
            return folder / BUNDLED_NAME
    return package / "models" / BUNDLED_NAME
