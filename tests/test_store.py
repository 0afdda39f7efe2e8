"""Model files: round trip, atomic writes, and refusing damaged, unknown or unsafe files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digitcli import files
from digitcli.network import keras_file, model_format, store
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
    assert loaded.metadata["format_version"] == model_format.FORMAT_VERSION
    assert loaded.metadata["architecture"]["layers"][-1] == {"units": 10, "activation": "linear"}


def test_a_failed_write_leaves_the_old_file_byte_identical(tmp_path):
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    before = path.read_bytes()

    def crash(f):
        f.write(b"half a model")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        files.atomic_write(path, crash)
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
    from digitcli.training.model import import_keras, to_keras

    keras = import_keras()
    net = random_network(hidden=(24, 12))
    path = tmp_path / "m.keras"
    keras_file.save(to_keras(net), path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).integers(0, 256, (20, 784), dtype=np.uint8)
    np.testing.assert_allclose(reloaded(x / 255.0).numpy(), net.logits(x), atol=1e-4)
    # digitcli reads the same file without Keras, through the safe path
    np.testing.assert_allclose(store.load(path).probabilities(x), net.probabilities(x), atol=1e-6)


# ---------------------------------------------------------------------------- crafted files (issue 13)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _header(shape, dtype="<f4") -> bytes:
    """A .npy header declaring `shape`, with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _model_with(tmp_path, network=None, **replace_members) -> Path:
    """The `random_network` saved as .npz, with some members replaced (None: removed)."""
    path = tmp_path / "m.npz"
    store.save(network or random_network(), path)
    members = _members(path)
    for name, data in replace_members.items():
        name = name.replace("__", ".") + ".npy"
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    _write_zip(path, members)
    return path


def _metadata_with(tmp_path, change) -> Path:
    path = tmp_path / "m.npz"
    store.save(random_network(), path)
    meta = json.loads(str(np.load(path, allow_pickle=False)["metadata"]))
    change(meta)
    return _model_with(tmp_path, metadata=_npy(np.array(json.dumps(meta))))


def test_a_declared_huge_shape_is_refused_before_allocating(tmp_path):
    path = _model_with(tmp_path, layer0__weights=_header((784, 10**12)))
    with pytest.raises(ModelError, match=r"layer 0: layer0.weights has shape \(784, 1000000000000\), "
                                         r"expected \(784, 16\)"):
        store.load(path)


def test_a_zip_bomb_is_refused_from_the_zip_directory(tmp_path):
    import tracemalloc

    path = _model_with(tmp_path, layer0__weights=None)
    members = _members(path)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        info = zipfile.ZipInfo("layer0.weights.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as m:  # a good header, then 64 MB of zeros
            m.write(_header((784, 16)))
            zeros = bytes(1 << 20)
            for _ in range(64):
                m.write(zeros)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelError, match="inflates .* to 67 MB, a zip bomb"):
            store.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # nothing was inflated


def test_members_the_format_does_not_name_are_never_read(tmp_path):
    """A 6 GB array beside the model: its data is missing, so reading it would fail loudly."""
    path = _model_with(tmp_path, extra=_header((1_500_000_000,)) + b"\0" * 16)
    loaded = store.load(path)
    np.testing.assert_array_equal(loaded.layers[0].weights, random_network().layers[0].weights)


def test_metadata_is_capped_from_the_zip_directory(tmp_path):
    path = _metadata_with(tmp_path, lambda m: m.update(padding=" " * 1_200_000))
    with pytest.raises(ModelError, match=r"metadata: metadata.npy declares 4.8 MB, more than the 4.1 MB"):
        store.load(path)


def test_a_declared_huge_architecture_is_refused_before_reading(tmp_path):
    def huge(meta):
        meta["architecture"]["layers"][0]["units"] = 10**9

    with pytest.raises(ModelError, match="declares .* MB of weights, more than the 1074 MB limit"):
        store.load(_metadata_with(tmp_path, huge))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(input_scale=float("nan")), "input_scale nan is not a positive number"),
        (lambda m: m.update(input_scale=1e39), r"input_scale 1e\+39 is not a positive number"),
        (lambda m: m.update(input_scale=-1 / 255), "input_scale -0.0039"),
        (lambda m: m.update(input_scale=0), "input_scale 0 is not a positive number"),
        (lambda m: m.update(input_scale="1/255"), "input_scale '1/255' is not a positive number"),
        (lambda m: m.update(input_scale=1e35), "logits could reach .* and overflow"),
        (lambda m: m.update(architecture=[1, 2]), "the architecture is not a list of layers"),
        (lambda m: m["architecture"].update(layers="dense"), "the architecture is not a list"),
        (lambda m: m["architecture"]["layers"].__setitem__(0, 3), "the architecture is not a list"),
        (lambda m: m["architecture"]["layers"][0].update(units="16"), "layer 0 has '16' units"),
        (lambda m: m["architecture"]["layers"][0].update(activation="tanh"), "unsupported activation"),
        (lambda m: m.update(calibration=[1.5]), "calibration is not an object"),
        (lambda m: m.update(calibration={"temperature": float("nan")}), "temperature nan"),
        (lambda m: m.update(calibration={"temperature": 1e-300}), "temperature 1e-300"),
    ],
)
def test_metadata_of_the_wrong_type_or_value_is_refused(tmp_path, change, message):
    with pytest.raises(ModelError, match=message):
        store.load(_metadata_with(tmp_path, change))


@pytest.mark.parametrize("metadata", [json.dumps([1, 2]), "[" * 200_000 + "]" * 200_000])
def test_metadata_that_is_not_an_object_is_refused(tmp_path, metadata):
    path = _model_with(tmp_path, metadata=_npy(np.array(metadata)))
    with pytest.raises(ModelError, match="not a digitcli model file|nested too deeply"):
        store.load(path)


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.full((784, 16), 1e300), "not finite float32"),  # finite in float64 only
        (np.full((784, 16), 3e38, np.float32), "logits could reach .* and overflow"),
        (np.ones((784, 16), np.complex64), "complex64 values, not real floats"),
        (np.ones((784, 16), np.int32), "int32 values, not real floats"),
    ],
)
def test_weights_that_would_give_nan_are_refused(tmp_path, weights, message):
    path = _model_with(tmp_path, layer0__weights=_npy(weights))
    with pytest.raises(ModelError, match=message):
        store.load(path)


def _network_with_a_policy():
    from digitcli.network.rejection import UnsurePolicy

    components = np.eye(784, dtype=np.float32)[:5]
    policy = UnsurePolicy(np.zeros(784, np.float32), components, np.zeros(2), np.ones(2), 3.0)
    return replace(random_network(), unsure=policy)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("unsure.threshold", np.array([np.nan]), "threshold nan is not a finite number"),
        ("unsure.components", np.zeros((0, 784), np.float32), "no principal components"),
        ("unsure.centre", np.array([0.0, np.nan]), "non-finite"),
        ("unsure.spread", np.array([1.0, np.inf]), "non-finite"),
        ("unsure.mean", np.full(784, 3e38, np.float32), "scores would overflow"),
        ("unsure.mean", np.zeros(784, np.complex128), "complex128 values"),
        ("unsure.components", np.zeros((785, 784), np.float32), r"expected \(≤784, 784\)"),
    ],
)
def test_nonsense_unsure_policies_are_refused(tmp_path, name, value, message):
    path = _model_with(tmp_path, _network_with_a_policy(), **{name.replace(".", "__"): _npy(value)})
    with pytest.raises(ModelError, match=f"unsure policy: .*{message}"):
        store.load(path)


def test_a_policy_round_trips(tmp_path):
    path = _model_with(tmp_path, _network_with_a_policy())
    assert store.load(path).unsure.threshold == 3.0


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_a_model_path_that_is_not_a_regular_file_fails_at_once(tmp_path, target):
    import resource
    import subprocess
    import sys

    path = tmp_path / "m.npz"
    if target == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(target)

    def limit():  # the old code read /dev/zero until memory ran out
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    result = subprocess.run([sys.executable, "-m", "digitcli", "inspect", str(path)],
                            capture_output=True, text=True, timeout=60, preexec_fn=limit)
    assert result.returncode == 5, result.stderr
    kind = "a named pipe (FIFO)" if target == "fifo" else "a character device"
    assert result.stderr.strip() == f"digitcli: error: {path}: is {kind}, not a regular file"


# ---------------------------------------------------------------------------- crafted .keras files


def crafted_keras(path, hidden=(16,), shapes=None, link=None, config_extra=None, seed=0):
    """A .keras zip built with h5py alone (no TensorFlow), as another tool could write it.

    `shapes` overrides the declared shape of datasets ("dense/0": shape), left unallocated.
    """
    import h5py

    net = random_network(hidden=hidden, seed=seed)
    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 784]}}] + [
        {"class_name": "Dense", "config": {"units": l.units, "activation": l.activation}}
        for l in net.layers]
    config = {"class_name": "Sequential", "config": {"layers": layers, **(config_extra or {})}}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        for i, layer in enumerate(net.layers):
            group = h5.create_group(f"layers/dense{'_' + str(i) if i else ''}/vars")
            for key, array in (("0", layer.weights), ("1", layer.bias)):
                name = f"dense{'_' + str(i) if i else ''}/{key}"
                if shapes and name in shapes:  # sparse: declared, never written
                    group.create_dataset(key, shape=shapes[name], dtype="f4", chunks=(1, 16))
                elif link and name in link:
                    group[key] = h5py.SoftLink(link[name])
                else:
                    group[key] = array
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights.getvalue())
    return net


def test_a_keras_file_from_elsewhere_loads_with_a_warning(tmp_path):
    path = tmp_path / "m.keras"
    net = crafted_keras(path)
    loaded = store.load(path)
    x = np.random.default_rng(0).integers(0, 256, (5, 784), dtype=np.uint8)
    np.testing.assert_allclose(loaded.probabilities(x), net.probabilities(x))
    assert loaded.unsure is None and loaded.temperature == 1.0
    assert "no calibration and no unsure policy" in loaded.metadata["warning"]


def test_a_sparse_hdf5_dataset_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "m.keras"
    crafted_keras(path, shapes={"dense/0": (784, 1 << 40)})  # 3.4 PB once read
    assert path.stat().st_size < 100_000
    with pytest.raises(ModelError, match=r"dense/vars/0 is float32 of shape \(784, 1099511627776\), "
                                         r"expected float of shape \(784, 16\)"):
        store.load(path)


def test_hdf5_links_are_not_followed(tmp_path):
    path = tmp_path / "m.keras"
    crafted_keras(path, link={"dense_1/0": "/layers/dense/vars/0"})
    with pytest.raises(ModelError, match="dense_1/vars/0 is a link"):
        store.load(path)


@pytest.mark.parametrize("extra, message", [
    ({"padding": " " * (1 << 20)}, "config: config.json declares 1.0 MB, more than the 1.0 MB"),
    ({"nested": json.loads("[" * 500 + "]" * 500)}, None),
])
def test_keras_config_is_capped(tmp_path, extra, message):
    path = tmp_path / "m.keras"
    crafted_keras(path, config_extra=extra)
    if message is None:
        store.load(path)  # a modest nesting is fine
    else:
        with pytest.raises(ModelError, match=message):
            store.load(path)


def test_keras_export_keeps_the_calibration_and_the_unsure_policy(tmp_path):
    pytest.importorskip("tensorflow")
    from digitcli.training.model import import_keras, to_keras
    from digitcli.network.rejection import Judge

    net = replace(_network_with_a_policy(), temperature=1.7)
    path = tmp_path / "m.keras"
    keras_file.save(to_keras(net), path, net)
    import_keras().saving.load_model(path, safe_mode=True)  # Keras still opens it
    loaded = store.load(path)
    assert loaded.temperature == pytest.approx(1.7)
    assert "warning" not in loaded.metadata
    for name, array in net.unsure.to_arrays().items():
        np.testing.assert_array_equal(loaded.unsure.to_arrays()[name], array)
    x = np.random.default_rng(0).integers(0, 256, (20, 784), dtype=np.uint8)
    np.testing.assert_allclose(loaded.probabilities(x), net.probabilities(x), atol=1e-6)
    assert Judge().classify(loaded, x)[1] == Judge().classify(net, x)[1]
