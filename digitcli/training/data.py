"""Dataset loaders: MNIST IDX files, Keras-style mnist.npz, CSV and 0..9 image folders.

Every source comes out the same way: images as uint8 (N, 784) with 0 = background and 255 = full ink
(the MNIST convention), labels as uint8 (N,) in 0..9. Every problem with a dataset is a one-line
`DataError` that names the file. NumPy and the standard library only: Keras is imported (through
`digitcli.training.model`) just for the download fallback, and only once its server can be reached.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import socket
import struct
import sys
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from digitcli.errors import DataError
from digitcli.files import not_regular, open_regular
from digitcli.training.labelled import SIDE, checked
from digitcli.training.csv_source import load_csv
from digitcli.training.folder_source import ImageLoader, load_folder


SPLITS = ("train", "test")
ENV_VAR = "DIGITCLI_DATA"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
ACCEPTED = (
    "a folder with the four MNIST IDX files (.gz or raw), a Keras-style mnist.npz, "
    "a CSV file (label + 784 pixels) or a folder with 0/ to 9/ image subfolders"
)


OFFLINE_HINT = (
    f"pass --data DIR with the four IDX files, a mnist.npz or a CSV, or set {ENV_VAR}"
)


# (images, labels) file names per split, in the original hyphenated spelling.
IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # 0x0803 / 0x0801: unsigned bytes, 3 / 1 dimensions


READ_CHUNK = 1 << 22


# Deflate cannot expand data more than 1032 times: a gzip file promising more is lying.
DEFLATE_RATIO_MAX = 1032
MNIST_HOST = "storage.googleapis.com"  # where keras.datasets.mnist.load_data downloads from
Kind = Literal["idx", "npz", "csv", "folder", "keras"]


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class Split:
    """One split of a dataset, validated."""

    x: np.ndarray  # uint8 (N, 784), 0 = background, 255 = full ink
    y: np.ndarray  # uint8 (N,), 0..9
    source: str  # for people and model metadata, e.g. "IDX folder data/mnist (t10k)"
    unreadable: tuple[str, ...] = ()  # pictures skipped with skip_unreadable, "path: why"


@dataclass(frozen=True)
class Source:
    """A recognised dataset source; nothing is read until `load`."""

    kind: Kind
    path: Path | None  # None only for the Keras download
    description: str

    @property
    def has_splits(self) -> bool:
        """True when the source has its own train/test split; CSVs and image folders do not."""
        return self.kind in ("idx", "npz", "keras")

    def load(self, split: str, *, image_loader: ImageLoader | None = None,
             skip_unreadable: bool = False) -> Split:
        """Read and validate `split` ("train" or "test"); single-split sources return every row.

        `skip_unreadable` (for evaluation): a picture in an image folder with no digit to be
        found is listed in `Split.unreadable` instead of stopping the load.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        try:
            if self.kind == "idx":
                x, y, detail = _load_idx(self.path, split)
            elif self.kind == "npz":
                x, y, detail = _load_npz(self.path, split)
            elif self.kind == "keras":
                x, y, detail = _load_keras(split)
            elif self.kind == "csv":
                x, y, detail = load_csv(self.path)
            else:
                x, y, detail, unreadable = load_folder(self.path, image_loader, skip_unreadable)
                return Split(x, y, f"{self.description} ({detail})", tuple(unreadable))
        except OSError as e:  # permissions, I/O errors: still a dataset problem, still one line
            raise DataError(f"{e.filename or self.path}: cannot read ({e.strerror or e})") from e
        return Split(x, y, f"{self.description} ({detail})")


def open_source(source: str | Path | None) -> Source:
    """Recognise a dataset source; None or "" means $DIGITCLI_DATA, the Keras cache, a download."""
    if source is not None and source != "":
        return _open_path(Path(source).expanduser())
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        try:
            return _open_path(path)
        except DataError as e:  # name the variable: a user may have forgotten it is set
            raise DataError(f"{ENV_VAR}={env}: {str(e).removeprefix(f'{path}: ')}") from e
    cache = Path.home() / ".keras" / "datasets" / "mnist.npz"
    if cache.is_file():
        return _open_path(cache)
    return Source("keras", None, "Keras download of MNIST")


def load_split(
    source: str | Path | None, split: str, *, image_loader: ImageLoader | None = None,
    skip_unreadable: bool = False,
) -> Split:
    """Open `source` and load `split` ("train" or "test") from it."""
    return open_source(source).load(split, image_loader=image_loader,
                                    skip_unreadable=skip_unreadable)


def resolve_source(source: str | Path | None) -> str:
    """Describe where data would come from, without reading it (for messages and --help)."""
    return open_source(source).description


def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """Hex SHA-256 over the shapes, dtypes and bytes of `x` and `y`: same data, same fingerprint."""
    digest = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape};".encode())
        digest.update(a.data)
    return digest.hexdigest()


def _open_path(path: Path) -> Source:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        found = {stem: _find_idx(path, stem) for pair in IDX_STEMS.values() for stem in pair}
        missing = [stem for stem, p in found.items() if p is None]
        if len(missing) < len(found):
            if missing:
                raise DataError(
                    f"{path}: incomplete MNIST IDX folder, missing {', '.join(missing)} "
                    "(each may also be spelled '.idx' and end in .gz)"
                )
            return Source("idx", path, f"IDX folder {path}")
        if any((path / str(d)).is_dir() for d in range(10)):
            return Source("folder", path, f"image folder {path}")
    elif why := not_regular(path):  # a FIFO would hang the read for ever
        raise DataError(f"{path}: {why}")
    elif path.suffix.lower() == ".npz":
        return Source("npz", path, f"npz file {path}")
    elif path.suffix.lower() == ".csv":
        return Source("csv", path, f"CSV file {path}")
    raise DataError(f"{path}: unrecognised dataset source; expected {ACCEPTED}")


def _find_idx(folder: Path, stem: str) -> Path | None:
    """The file for `stem` (train-images-idx3-ubyte or train-images.idx3-ubyte), maybe .gz."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in ("", ".gz"):
            candidate = folder / (name + suffix)
            if candidate.exists():  # a FIFO or a folder by that name is refused when read
                return candidate
    return None


def _load_idx(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    images_stem, labels_stem = IDX_STEMS[split]
    images_path, labels_path = _find_idx(folder, images_stem), _find_idx(folder, labels_stem)
    if images_path is None or labels_path is None:  # removed since open_source looked
        raise DataError(f"{folder}: {images_stem} or {labels_stem} has gone missing")
    x = _read_idx(images_path, IMAGES_MAGIC, (SIDE, SIDE))
    y = _read_idx(labels_path, LABELS_MAGIC, ())
    if len(x) != len(y):
        raise DataError(
            f"{folder}: {images_path.name} has {len(x)} images "
            f"but {labels_path.name} has {len(y)} labels"
        )
    x, y = checked(x, y, str(labels_path))
    return x, y, images_stem.split("-")[0]


def _read_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped or raw); the header is big-endian uint32s."""
    what = "images" if magic == IMAGES_MAGIC else "labels"
    header_size = 4 * (2 + len(item_shape))
    try:
        with open_regular(path, DataError) as raw:
            # Sniff the gzip magic rather than trust the suffix: renamed files are common.
            compressed = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            f = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            header = f.read(header_size)
            if len(header) < header_size:
                raise DataError(
                    f"{path}: truncated IDX file (header is {len(header)} of {header_size} bytes)"
                )
            found, count, *dims = struct.unpack(f">{2 + len(item_shape)}I", header)
            if found != magic:
                raise DataError(
                    f"{path}: not an MNIST {what} IDX file: "
                    f"expected magic number {magic}, found {found}"
                )
            if tuple(dims) != item_shape:
                raise DataError(f"{path}: images are {dims[0]}x{dims[1]}, expected {SIDE}x{SIDE}")
            size = count * math.prod(item_shape)
            _check_declared(path, raw, size, header_size, compressed, f"{count} {what}")
            data = _read_at_most(f, size + 1)  # one byte more tells us whether extra data follows
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # bad or cut-off gzip data
        raise DataError(f"{path}: damaged or truncated file ({e})") from e
    if len(data) < size:
        raise DataError(
            f"{path}: truncated IDX file: header promises {count} {what} ({size} bytes) "
            f"but only {len(data)} bytes follow"
        )
    if len(data) > size:
        raise DataError(f"{path}: unexpected data after the {count} {what} the header promises")
    return np.frombuffer(data, np.uint8).reshape(count, *item_shape)


def _check_declared(path: Path, raw: BinaryIO, size: int, header_size: int, compressed: bool,
                    what: str) -> None:
    """Refuse a header that promises more data than the file can hold, before reading any."""
    stored = os.fstat(raw.fileno()).st_size
    if not compressed and size > stored - header_size:
        raise DataError(
            f"{path}: truncated IDX file: header promises {what} ({size} bytes) "
            f"but only {stored - header_size} bytes follow"
        )
    if compressed and size > stored * DEFLATE_RATIO_MAX:
        raise DataError(
            f"{path}: header promises {what} ({size} bytes), more than a {stored}-byte "
            "gzip file can hold"
        )


def _read_at_most(f: BinaryIO, limit: int) -> bytearray:
    # Growing a bytearray keeps memory at the real size (not a corrupt header's promise), and the
    # result is writable, so the arrays built on it are too.
    buf = bytearray()
    while len(buf) < limit and (chunk := f.read(min(READ_CHUNK, limit - len(buf)))):
        buf += chunk
    return buf


def _load_npz(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    with open_regular(path, DataError) as f:
        if f.read(4) != b"PK\x03\x04":
            raise DataError(
                f"{path}: not a .npz archive (a zip of .npy arrays like Keras' mnist.npz)"
            )
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                missing = [key for key in NPZ_KEYS if key not in npz.files]
                if missing:
                    raise DataError(
                        f"{path}: missing {', '.join(missing)} "
                        f"(a Keras-style mnist.npz holds {', '.join(NPZ_KEYS)})"
                    )
                for key in (f"x_{split}", f"y_{split}"):
                    _check_npy_member(path, npz.zip, f"{key}.npy")
                x, y = npz[f"x_{split}"], npz[f"y_{split}"]
        except ValueError as e:
            if "pickle" in str(e).lower():  # NumPy refuses object arrays under allow_pickle=False
                raise DataError(
                    f"{path}: contains pickled objects and is refused (loading them could run code)"
                ) from e
            raise DataError(f"{path}: damaged .npz archive ({e})") from e
        except (EOFError, zlib.error, zipfile.BadZipFile) as e:
            raise DataError(f"{path}: damaged .npz archive ({e})") from e
    x, y = checked(x, y, f"{path} [{split}]")
    return x, y, split


def _check_npy_member(path: Path, archive: zipfile.ZipFile, name: str) -> None:
    """Refuse an array whose header declares more bytes than its zip member holds, unread.

    NumPy allocates the declared shape before reading: a 1 KB file could ask for terabytes.
    """
    from digitcli.network import npy

    info = archive.getinfo(name)
    with archive.open(info) as member:
        shape, _, dtype = npy.read_header(member)
        held = info.file_size - member.tell()
    declared = math.prod(shape) * dtype.itemsize
    if not dtype.hasobject and declared > held:  # object arrays are refused by np.load itself
        raise DataError(
            f"{path}: {name} declares an array of shape {shape} ({declared} bytes) "
            f"but holds only {held} bytes"
        )


def _download_mnist() -> Mapping[str, np.ndarray]:
    """Fetch MNIST with Keras (cached in ~/.keras/datasets); the only Keras use in this module."""
    _check_reachable(MNIST_HOST)
    from digitcli.training.model import import_keras  # lazy: TensorFlow only when nothing else is available

    keras = import_keras()
    # Keras prints "Downloading data from ..." and a progress bar; stdout is for data only.
    with contextlib.redirect_stdout(sys.stderr):
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _check_reachable(host: str) -> None:
    """Fail at once, quietly, when the download server cannot be reached.

    Otherwise an offline run would import TensorFlow (seconds) and print Keras' "Downloading data
    from …" line only to fail. Behind a proxy a direct connection proves nothing: leave it to Keras.
    """
    import urllib.request

    if "https" in urllib.request.getproxies():
        return
    try:
        socket.create_connection((host, 443), timeout=10).close()
    except OSError as e:
        raise DataError(f"could not download MNIST (cannot reach {host}: {e.strerror or e}); "
                        f"{OFFLINE_HINT}") from e


def _load_keras(split: str) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        arrays = _download_mnist()
    except DataError:
        raise
    except Exception as e:  # Keras wraps network failures in a bare Exception; all mean "offline"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"could not download MNIST ({reason}); {OFFLINE_HINT}") from e
    x, y = checked(arrays[f"x_{split}"], arrays[f"y_{split}"], "Keras MNIST download")
    return x, y, split
