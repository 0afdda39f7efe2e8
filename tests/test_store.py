"""Model files: round trip, atomic writes, and refusing damaged, unknown or unsafe files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from digitcli import store
from digitcli.errors import ModelError
from tests.conftest import random_network


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    net = random_network()
    path = tmp_path / "m.npz"
    store.save(net, path)
    loaded = store.load(path)
    for a, b in zip(net.layers, loaded.layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
        assert a.activation == b.activation
    assert loaded.metadata["note"] == "random test network"
    assert loaded.metadata["format_version"] == store.FORMAT_VERSION
    assert loaded.metadata["architecture"]["layers"][-1] == {"units": 10, "activation": "linear"}


def test_a_failed_write_leaves_the_old_file_byte_identical(tmp_path):
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    before = path.read_bytes()

    def crash(f):
        f.write(b"half a model")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        store.atomic_write(path, crash)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "damaged"),
        (lambda b: b"not a zip at all", "not a digitcli model file"),
        (lambda b: b"", "not a digitcli model file"),
    ],
)
def test_damaged_files_are_refused(tmp_path, damage, message):
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ModelError, match=message):
        store.load(path)


def _rewrite_metadata(path, change):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["metadata"]))
    change(meta)
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_unknown_format_version_is_a_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    _rewrite_metadata(path, lambda m: m.update(format_version=99))
    with pytest.raises(ModelError, match="format version 99 is not supported"):
        store.load(path)


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    store.save(random_network(), path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["layer0.weights"] = np.array([object()], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(ModelError, match="pickled"):
        store.load(path)


def test_wrong_shapes_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["layer0.weights"] = arrays["layer0.weights"][:100]
    np.savez(path, **arrays)
    with pytest.raises(ModelError, match="784"):
        store.load(path)


def _keras_zip(path, layers):
    config = {"class_name": "Sequential", "config": {"layers": layers}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", "{}")
        z.writestr("model.weights.h5", b"")


def test_keras_file_with_a_lambda_layer_is_refused(tmp_path):
    path = tmp_path / "evil.keras"
    _keras_zip(path, [
        {"class_name": "InputLayer", "config": {}},
        {"class_name": "Lambda", "config": {"name": "lambda", "function": "os.system('rm -rf ~')"}},
    ])
    with pytest.raises(ModelError, match="Lambda layer"):
        store.load(path)


def test_keras_export_loads_in_safe_mode_and_predicts_the_same(tmp_path):
    pytest.importorskip("tensorflow")
    from digitcli.model import import_keras, to_keras

    keras = import_keras()
    net = random_network(hidden=(24, 12))
    path = tmp_path / "m.keras"
    store.save_keras(to_keras(net), path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).integers(0, 256, (20, 784), dtype=np.uint8)
    np.testing.assert_allclose(reloaded(x / 255.0).numpy(), net.logits(x), atol=1e-4)
    # digitcli reads the same file without Keras, through the safe path
    np.testing.assert_allclose(store.load(path).probabilities(x), net.probabilities(x), atol=1e-6)
