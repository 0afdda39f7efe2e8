"""Dataset loaders: every source kind, every validation error, and the default source chain."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitcli.training import data
from digitcli.training.data import Split, fingerprint, load_split, open_source, resolve_source
from digitcli.errors import DataError, InputError
from tests.conftest import digit_image

ROOT = Path(__file__).resolve().parents[1]
STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


# --- building tiny datasets -----------------------------------------------------------------


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def idx_bytes(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(f">{2 + array.ndim - 1}I", magic, *array.shape) + array.tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def idx_folder(folder: Path, gz: bool = True, dotted: bool = False, n: int = 12) -> dict:
    """Write the four IDX files for a tiny dataset; returns the arrays and the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": images(n),
        "train_labels": labels(n),
        "test_images": images(n // 2, seed=1),
        "test_labels": labels(n // 2)[::-1].copy(),
    }
    paths = {}
    for key, stem in STEMS.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        magic = 2051 if key.endswith("images") else 2049
        paths[key] = write(folder / name, idx_bytes(magic, arrays[key]), gz)
    return {"arrays": arrays, "paths": paths}


def csv_text(x: np.ndarray, y: np.ndarray, header: bool = True) -> str:
    table = np.column_stack([y, x.reshape(len(x), -1)]).tolist()
    rows = [",".join(map(str, row)) for row in table]
    if header:
        rows.insert(0, "label," + ",".join(f"pixel{i}" for i in range(784)))
    return "\n".join(rows) + "\n"


def csv_row(label: object = 3, pixel: object = 0, columns: int = 785) -> str:
    return ",".join([str(label)] + [str(pixel)] * (columns - 1))


def expect_error(source, *fragments: str, split: str = "train", **kwargs) -> str:
    """Load and assert a one-line DataError whose message holds every fragment."""
    with pytest.raises(DataError) as info:
        load_split(source, split, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


# --- IDX folders ----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("dotted", [False, True], ids=["hyphen", "dotted"])
def test_idx_folder_loads_both_splits(tmp_path, gz, dotted):
    made = idx_folder(tmp_path / "mnist", gz=gz, dotted=dotted)["arrays"]
    source = open_source(tmp_path / "mnist")
    assert (source.kind, source.has_splits) == ("idx", True)

    train, test = source.load("train"), source.load("test")

    assert train.x.dtype == np.uint8 and train.y.dtype == np.uint8
    assert train.x.shape == (12, 784) and test.x.shape == (6, 784)
    np.testing.assert_array_equal(train.x, made["train_images"].reshape(12, 784))
    np.testing.assert_array_equal(train.y, made["train_labels"])
    np.testing.assert_array_equal(test.x, made["test_images"].reshape(6, 784))
    np.testing.assert_array_equal(test.y, made["test_labels"])
    assert train.source == f"IDX folder {tmp_path / 'mnist'} (train)"
    assert test.source.endswith("(t10k)")
    assert train.x.flags.writeable  # callers may shuffle in place


def test_idx_gzip_is_sniffed_not_trusted_from_the_name(tmp_path):
    made = idx_folder(tmp_path, gz=True)
    gz_path = made["paths"]["test_images"]
    gz_path.rename(gz_path.with_suffix(""))  # gzipped content, no .gz suffix

    test = load_split(tmp_path, "test")

    np.testing.assert_array_equal(test.x, made["arrays"]["test_images"].reshape(6, 784))


def test_idx_folder_with_some_files_missing_names_them(tmp_path):
    made = idx_folder(tmp_path)
    made["paths"]["test_images"].unlink()
    made["paths"]["test_labels"].unlink()

    message = expect_error(tmp_path, "incomplete MNIST IDX folder")
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "train-images" not in message


def test_idx_wrong_magic_number(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    path = made["paths"]["train_images"]
    path.write_bytes(idx_bytes(2049, made["arrays"]["train_images"]))  # a labels magic

    expect_error(tmp_path, str(path), "expected magic number 2051, found 2049")


def test_idx_truncated_data(tmp_path):
    made = idx_folder(tmp_path, gz=True)
    path = made["paths"]["train_images"]
    payload = idx_bytes(2051, made["arrays"]["train_images"])
    path.write_bytes(gzip.compress(payload[:-100]))

    expect_error(tmp_path, str(path), "truncated", "promises 12 images (9408 bytes)", "9308 bytes")


def test_idx_truncated_header(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    path = made["paths"]["train_labels"]
    path.write_bytes(b"\x00\x00\x08")

    expect_error(tmp_path, str(path), "truncated IDX file", "header is 3 of 8 bytes")


def test_idx_extra_bytes_after_the_data(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    path = made["paths"]["train_labels"]
    path.write_bytes(path.read_bytes() + b"\x00")

    expect_error(tmp_path, str(path), "unexpected data after the 12 labels")


@pytest.mark.parametrize("damage", ["cut", "corrupt"])
def test_idx_bad_gzip(tmp_path, damage):
    made = idx_folder(tmp_path, gz=True)
    path = made["paths"]["train_images"]
    blob = bytearray(path.read_bytes())
    if damage == "cut":
        blob = blob[: len(blob) // 2]
    else:
        blob[-8] ^= 0xFF  # the CRC-32 in the trailer
    path.write_bytes(bytes(blob))

    expect_error(tmp_path, str(path), "damaged or truncated file")


def test_idx_image_and_label_count_mismatch(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    made["paths"]["train_labels"].write_bytes(idx_bytes(2049, labels(11)))

    expect_error(
        tmp_path, "train-images-idx3-ubyte has 12 images", "train-labels-idx1-ubyte has 11 labels"
    )


def test_idx_label_outside_0_to_9(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    bad = labels(12)
    bad[4] = 12
    made["paths"]["train_labels"].write_bytes(idx_bytes(2049, bad))

    expect_error(tmp_path, "train-labels-idx1-ubyte", "sample 4 has label 12", "0-9")


def test_idx_images_not_28x28(tmp_path):
    made = idx_folder(tmp_path, gz=False)
    made["paths"]["test_images"].write_bytes(idx_bytes(2051, np.zeros((6, 32, 32), np.uint8)))

    expect_error(tmp_path, "images are 32x32, expected 28x28", split="test")


# --- Keras-style npz ------------------------------------------------------------------------


def write_npz(path: Path, **arrays) -> Path:
    defaults = {
        "x_train": images(10),
        "y_train": labels(10),
        "x_test": images(4, seed=1),
        "y_test": labels(4),
    }
    np.savez(path, **{**defaults, **arrays})
    return path


def test_npz_loads_both_splits(tmp_path):
    x_train, x_test = images(10), images(4, seed=1)
    path = write_npz(tmp_path / "mnist.npz", x_train=x_train, x_test=x_test)
    source = open_source(path)
    assert (source.kind, source.has_splits) == ("npz", True)

    train, test = source.load("train"), source.load("test")

    np.testing.assert_array_equal(train.x, x_train.reshape(10, 784))
    np.testing.assert_array_equal(test.y, labels(4))
    assert train.x.dtype == np.uint8 and test.x.shape == (4, 784)
    assert test.source == f"npz file {path} (test)"


def test_npz_with_object_array_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    write_npz(path, x_train=np.array([{"evil": 1}] * 10, dtype=object))

    expect_error(path, str(path), "contains pickled objects and is refused")


def test_npz_missing_keys(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=images(3), y_train=labels(3))

    expect_error(path, str(path), "missing x_test, y_test")


def test_npz_that_is_not_a_zip(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"not an archive at all")

    expect_error(path, str(path), "not a .npz archive")


def test_npz_count_mismatch_and_bad_shapes(tmp_path):
    path = write_npz(tmp_path / "a.npz", y_train=labels(9))
    expect_error(path, "10 images but 9 labels")

    path = write_npz(tmp_path / "b.npz", x_train=np.zeros((10, 27, 27), np.uint8))
    expect_error(path, "images must be 28x28", "(10, 27, 27)")


def test_npz_values_out_of_range(tmp_path):
    x = images(10).astype(np.int64)
    x[7, 3, 5] = 300
    path = write_npz(tmp_path / "a.npz", x_train=x)
    expect_error(path, "sample 7 has pixel value 300", "0-255")

    y = labels(10).astype(np.int64)
    y[2] = -1
    path = write_npz(tmp_path / "b.npz", y_train=y)
    expect_error(path, "sample 2 has label -1", "0-9")


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
def test_csv_loads_every_row_for_either_split(tmp_path, header):
    x, y = images(7), labels(7)
    path = tmp_path / "digits.csv"
    path.write_text(csv_text(x, y, header=header))
    source = open_source(path)
    assert (source.kind, source.has_splits) == ("csv", False)

    for split in ("train", "test"):
        loaded = source.load(split)
        np.testing.assert_array_equal(loaded.x, x.reshape(7, 784))
        np.testing.assert_array_equal(loaded.y, y)
        assert loaded.x.dtype == np.uint8 and loaded.y.dtype == np.uint8
        assert loaded.source == f"CSV file {path} (single split: all rows)"


def test_csv_with_bom_crlf_blank_lines_and_float_values(tmp_path):
    path = tmp_path / "export.csv"
    lines = ["label," + ",".join(f"p{i}" for i in range(784)), csv_row(5, "12.0"), "", csv_row(1)]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())

    loaded = load_split(path, "test")

    assert loaded.y.tolist() == [5, 1]
    assert loaded.x[0].tolist() == [12] * 784 and loaded.x[1].tolist() == [0] * 784


def test_csv_10k_rows_load_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x = np.where(rng.random((100, 784)) < 0.2, rng.integers(0, 256, (100, 784)), 0)
    y = rng.integers(0, 10, 100)
    path = tmp_path / "big.csv"
    path.write_text(csv_text(x, y, header=False) * 100)  # 100 distinct rows repeated: quick
    x, y = np.tile(x, (100, 1)), np.tile(y, 100)

    loaded = load_split(path, "test")

    np.testing.assert_array_equal(loaded.x, x)
    np.testing.assert_array_equal(loaded.y, y)


def test_csv_wrong_column_count(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("\n".join([csv_row(), csv_row(), csv_row(columns=784)]) + "\n")

    expect_error(path, str(path), "line 3 has 784 columns, expected 785")


def test_csv_non_numeric_value(tmp_path):
    path = tmp_path / "d.csv"
    row = csv_row().split(",")
    row[10] = "x7"
    path.write_text("label" + ",p" * 784 + "\n" + csv_row() + "\n" + ",".join(row) + "\n")

    expect_error(path, str(path), "line 3, column 11: 'x7' is not a number")


@pytest.mark.parametrize(
    ("label", "pixel", "fragment"),
    [
        (3, 256, "line 2 has pixel value 256, expected a whole number 0-255"),
        (3, -1, "line 2 has pixel value -1"),
        (3, 99999, "line 2 has pixel value 99999"),
        (3, 1.5, "line 2 has pixel value 1.5"),
        (3, "nan", "line 2 has pixel value nan"),
        (10, 0, "line 2 has label 10, expected a whole number 0-9"),
    ],
)
def test_csv_values_out_of_range(tmp_path, label, pixel, fragment):
    path = tmp_path / "d.csv"
    path.write_text(csv_row() + "\n" + csv_row(label, pixel) + "\n")

    expect_error(path, str(path), fragment)


@pytest.mark.parametrize(
    "content", ["", "\n\n  \n", "label" + ",p" * 784 + "\n"], ids=["empty", "blank", "header-only"]
)
def test_csv_empty(tmp_path, content):
    path = tmp_path / "d.csv"
    path.write_text(content)

    expect_error(path, str(path), "empty CSV file")


def test_csv_that_is_not_text(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xff\xfe\x00binary")

    expect_error(path, str(path), "not a text CSV file")


# --- image folders --------------------------------------------------------------------------


def png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (28, 28), value).save(path)


def fake_loader(path: Path) -> np.ndarray:
    """Stands in for digitcli.vision.preprocess.load_digit so these tests do not depend on it."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def test_image_folder_loads_sorted_files_with_digit_labels(tmp_path):
    png(tmp_path / "3" / "b.png", 30)
    png(tmp_path / "3" / "a.PNG", 20)
    png(tmp_path / "0" / "z.png", 10)
    (tmp_path / "0" / "notes.txt").write_text("not an image")
    (tmp_path / "7").mkdir()  # empty digit folders are fine
    source = open_source(tmp_path)
    assert (source.kind, source.has_splits) == ("folder", False)

    loaded = source.load("train", image_loader=fake_loader)

    assert loaded.y.tolist() == [0, 3, 3]
    assert loaded.x[:, 0].tolist() == [10, 20, 30]  # 0/z, then 3/a.PNG before 3/b.png
    assert loaded.x.shape == (3, 784) and loaded.x.dtype == np.uint8
    assert loaded.source == f"image folder {tmp_path} (single split: all images)"


def test_image_folder_uses_preprocess_load_digit_by_default(tmp_path, monkeypatch):
    png(tmp_path / "5" / "a.png", 40)
    fake = types.ModuleType("digitcli.vision.preprocess")
    fake.load_digit = fake_loader
    monkeypatch.setitem(sys.modules, "digitcli.vision.preprocess", fake)

    loaded = load_split(tmp_path, "test")

    assert loaded.y.tolist() == [5] and loaded.x[0, 0] == 40


def test_image_folder_with_an_unreadable_image_names_the_file(tmp_path):
    png(tmp_path / "1" / "ok.png", 0)
    png(tmp_path / "1" / "bad.png", 0)

    def loader(path: Path) -> np.ndarray:
        if path.name == "bad.png":
            raise InputError(f"{path}: image file is truncated")
        return fake_loader(path)

    expect_error(
        tmp_path,
        str(tmp_path / "1" / "bad.png"),
        "cannot use as a training image",
        "truncated",
        image_loader=loader,
    )


def test_image_folder_loader_returning_wrong_shape(tmp_path):
    png(tmp_path / "2" / "a.png", 0)

    expect_error(
        tmp_path,
        str(tmp_path / "2" / "a.png"),
        "expected 28x28",
        image_loader=lambda path: np.zeros((20, 20), np.uint8),
    )


def test_image_folder_without_images(tmp_path):
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "readme.txt").write_text("no pictures here")

    expect_error(tmp_path, str(tmp_path), "no images in the digit", image_loader=fake_loader)


def test_image_folder_refuses_a_subfolder_that_is_no_digit(tmp_path):
    png(tmp_path / "3" / "a.png", 30)
    png(tmp_path / "10" / "b.png", 30)  # not label 1 then 0: most likely a mistake
    (tmp_path / ".thumbnails").mkdir()  # hidden folders are not data

    message = expect_error(tmp_path, image_loader=fake_loader)

    assert message == (f"{tmp_path}: subfolder 10/ is not a digit label: a labelled image folder "
                       "holds only 0/ to 9/ (move it out)")


# --- what is not a regular file, and headers that promise too much ---------------------------


@pytest.mark.parametrize("where", ["npz", "csv", "idx", "image-folder"])
def test_a_fifo_in_place_of_a_dataset_file_is_refused_at_once(tmp_path, fifo, where):
    if where in ("npz", "csv"):
        source = pipe = fifo(tmp_path / f"data.{where}")  # reading it would wait for ever
    elif where == "idx":
        source = tmp_path / "mnist"
        idx_folder(source, gz=False)
        (source / STEMS["train_images"]).unlink()
        pipe = fifo(source / STEMS["train_images"])
    else:
        source = tmp_path
        (tmp_path / "4").mkdir()
        digit_image(7).save(tmp_path / "4" / "a.png")
        pipe = fifo(tmp_path / "4" / "b.png")

    message = expect_error(source, split="train")

    assert message.startswith(str(pipe)) and "is a named pipe (FIFO), not a regular file" in message


def test_npz_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    import io
    import zipfile

    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                        "shape": (2**31, 28, 28)})
    path = tmp_path / "mnist.npz"
    np.savez(path, y_train=labels(10), x_test=images(4), y_test=labels(4))
    with zipfile.ZipFile(path, "a") as archive:  # 1.7 TB declared in 100 bytes
        archive.writestr("x_train.npy", header.getvalue() + bytes(100))

    expect_error(path, str(path), "x_train.npy declares an array of shape (2147483648, 28, 28)",
                 "but holds only 100 bytes")


def test_idx_gzip_header_promising_more_than_deflate_can_hold_is_refused_unread(tmp_path):
    import tracemalloc

    folder = tmp_path / "mnist"
    idx_folder(folder)
    # 2^31 images in 20 MB of zeros that gzip to 20 KB: the header lies, so nothing is inflated.
    payload = struct.pack(">4I", 2051, 2**31, 28, 28) + bytes(20_000_000)
    (folder / (STEMS["train_images"] + ".gz")).write_bytes(gzip.compress(payload))

    tracemalloc.start()
    try:
        expect_error(folder, "header promises 2147483648 images", "more than a", "gzip file can hold")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_csv_line_too_long_for_a_row_is_refused_without_reading_it_whole(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("3," + "0" * 5_000_000 + "\n")  # one 5 MB "row"

    expect_error(path, f"{path}: line 1 is longer than 65536 characters")


# --- recognising sources --------------------------------------------------------------------


def test_missing_path(tmp_path):
    expect_error(tmp_path / "nowhere", str(tmp_path / "nowhere"), "no such file or folder")


@pytest.mark.parametrize("name", ["empty-folder", "data.txt"])
def test_unrecognised_source_lists_accepted_kinds(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("1,2,3")
    else:
        path.mkdir()

    expect_error(path, str(path), "unrecognised", "IDX", "mnist.npz", "CSV", "0/ to 9/")


def test_unknown_split_is_a_programming_error(tmp_path):
    idx_folder(tmp_path)
    with pytest.raises(ValueError, match="'validation'"):
        load_split(tmp_path, "validation")


def test_resolve_source_describes_without_reading(tmp_path):
    (tmp_path / "d.csv").write_text("garbage that is never read")
    assert resolve_source(tmp_path / "d.csv") == f"CSV file {tmp_path / 'd.csv'}"


# --- the default chain: $DIGITCLI_DATA, then the Keras cache, then a download ---------------


@pytest.fixture
def no_default(monkeypatch, tmp_path):
    """A home folder without a Keras cache, and no $DIGITCLI_DATA from the user's shell."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIGITCLI_DATA", raising=False)


def keras_cache() -> Path:
    cache = Path(os.environ["HOME"]) / ".keras" / "datasets" / "mnist.npz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    return cache


def refuse_download():
    raise AssertionError("the download must not be attempted")


def test_default_uses_digitcli_data_first(no_default, tmp_path, monkeypatch):
    idx_folder(tmp_path / "mnist")
    write_npz(keras_cache())  # present, but $DIGITCLI_DATA wins
    monkeypatch.setenv("DIGITCLI_DATA", str(tmp_path / "mnist"))
    monkeypatch.setattr(data, "_download_mnist", refuse_download)

    assert load_split(None, "test").source.startswith("IDX folder")


def test_default_reports_a_bad_digitcli_data(no_default, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITCLI_DATA", str(tmp_path / "gone"))

    expect_error(None, "no such file or folder", "DIGITCLI_DATA")


def test_default_then_uses_the_keras_cache(no_default, monkeypatch):
    cache = write_npz(keras_cache())
    monkeypatch.setenv("DIGITCLI_DATA", "")  # empty counts as unset
    monkeypatch.setattr(data, "_download_mnist", refuse_download)

    loaded = load_split(None, "train")

    assert loaded.source == f"npz file {cache} (train)"
    assert loaded.x.shape == (10, 784)


def test_default_downloads_when_nothing_else_is_there(no_default, monkeypatch):
    x_test = images(4, seed=3)
    monkeypatch.setattr(
        data,
        "_download_mnist",
        lambda: {"x_train": images(5), "y_train": labels(5), "x_test": x_test, "y_test": labels(4)},
    )

    loaded = load_split(None, "test")

    assert loaded.source == "Keras download of MNIST (test)"
    np.testing.assert_array_equal(loaded.x, x_test.reshape(4, 784))


def test_offline_download_failure_says_how_to_provide_the_data(no_default, monkeypatch):
    def offline():
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/mnist.npz: None -- "
            "[Errno -3] Temporary failure in name resolution\nsecond line"
        )

    monkeypatch.setattr(data, "_download_mnist", offline)

    message = expect_error(None, "could not download MNIST (URL fetch failure", "Errno -3")
    assert message.endswith(
        "pass --data DIR with the four IDX files, a mnist.npz or a CSV, or set DIGITCLI_DATA"
    )


def test_importing_data_does_not_import_tensorflow():
    code = "import sys, digitcli.training.data; sys.exit(bool({'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


# --- fingerprint ----------------------------------------------------------------------------


def test_fingerprint_depends_on_bytes_shape_and_dtype():
    x, y = images(5).reshape(5, 784), labels(5)
    base = fingerprint(x, y)

    assert len(base) == 64 and int(base, 16) >= 0
    assert fingerprint(x.copy(), y.copy()) == base
    assert fingerprint(np.asfortranarray(x), y) == base  # layout in memory does not matter
    changed = x.copy()
    changed[2, 100] ^= 1
    assert fingerprint(changed, y) != base
    assert fingerprint(x.reshape(5, 28, 28), y) != base
    assert fingerprint(x, y.astype(np.int64)) != base


# --- the real MNIST files -------------------------------------------------------------------

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mnist_through_digitcli_data(mnist_dir, monkeypatch):
    """Skips (via the conftest fixture) when DIGITCLI_DATA is not set."""
    monkeypatch.setenv("DIGITCLI_DATA", str(mnist_dir))
    monkeypatch.setattr(data, "_download_mnist", refuse_download)

    train, test = load_split(None, "train"), load_split(None, "test")

    assert isinstance(train, Split)
    assert train.x.shape == (60000, 784) and train.y.shape == (60000,)
    assert test.x.shape == (10000, 784) and test.y.shape == (10000,)
    assert np.bincount(train.y, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(test.y, minlength=10).tolist() == TEST_COUNTS
    assert train.x.dtype == np.uint8 and train.x.max() == 255 and train.x.min() == 0
    assert fingerprint(test.x, test.y) == fingerprint(test.x.copy(), test.y.copy())
