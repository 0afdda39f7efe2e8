"""The NumPy forward pass: stable softmax, and the same numbers as Keras on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from digitcli.network.infer import ExactProduct, cross_entropy, softmax
from tests.conftest import random_network


def test_softmax_is_stable_for_huge_logits():
    p = softmax(np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]]))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(p[1], 1 / 3)


def test_cross_entropy_matches_the_definition():
    z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    y = np.array([0, 1])
    expected = -np.mean(np.log(softmax(z)[np.arange(2), y]))
    assert cross_entropy(z, y) == pytest.approx(expected)


def test_probabilities_accept_28x28_and_flat_pixels():
    net = random_network()
    x = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(net.probabilities(x), net.probabilities(x.reshape(5, -1)))


def test_numpy_forward_pass_equals_keras_on_the_same_weights():
    pytest.importorskip("tensorflow")
    from digitcli.training.model import to_keras

    net = random_network(hidden=(32, 16), seed=3)
    x = np.random.default_rng(2).integers(0, 256, (64, 784), dtype=np.uint8)
    keras_model = to_keras(net)
    keras_z = keras_model(x.astype(np.float32) / 255.0).numpy()
    keras_p = softmax(keras_z)
    np.testing.assert_allclose(net.logits(x), keras_z, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(net.probabilities(x), keras_p, atol=1e-5)
    import keras

    np.testing.assert_allclose(
        net.probabilities(x), keras.ops.softmax(keras_z).numpy(), atol=1e-5
    )


def _pictures(n, seed=0):
    """Digit-like pixel rows: mostly black, some strokes (as the network's inputs are)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 784)) * (rng.random((n, 784)) < 0.2)
    return x.astype(np.uint8)


def test_a_pictures_result_does_not_depend_on_its_batch():
    """Alone, at any position of a batch, in batches of any size and with any BLAS thread count:
    the same probabilities to the last bit (plain float32 BLAS products differ in the 7th digit)."""
    from threadpoolctl import threadpool_limits

    net = random_network(hidden=(512, 256), seed=4)
    x = _pictures(70)
    alone = np.stack([net.probabilities(x[i : i + 1])[0] for i in range(len(x))])
    order = np.random.default_rng(1).permutation(len(x))
    for threads in (1, 2):
        with threadpool_limits(threads):
            assert np.array_equal(net.probabilities(x), alone)
            assert np.array_equal(net.probabilities(x[order]), alone[order])
            for size in (3, 16, 64):
                parts = [net.probabilities(x[i : i + size]) for i in range(0, len(x), size)]
                assert np.array_equal(np.concatenate(parts), alone)
    floats = x.astype(np.float32) * np.float32(0.73)  # --number gives float pixels
    assert np.array_equal(net.logits(floats[:5]), net.logits(floats)[:5])


def test_exact_products_are_exact_sums_of_weights_kept_to_float32_precision():
    """Every slice product is the exact sum (so no order can change it), and the weights it uses
    are the model's to within float32 precision of each column's largest."""
    import math

    from digitcli.network.infer import grid_slices

    rng = np.random.default_rng(5)
    w = (rng.normal(0, 0.1, (784, 6)) * rng.random((784, 6)) ** 4).astype(np.float32)
    pixels = _pictures(3).astype(np.float64)
    floats = rng.random((3, 784)) * 7.3
    for product, x in ((ExactProduct(w, pixels=True), pixels), (ExactProduct(w), floats)):
        weights = product._weights
        top = np.abs(w).max(axis=0)
        assert np.all(np.abs(weights - w) <= top * 2.0**-24)
        parts = [x] if product.pixels else grid_slices(x, 1, product._sum_bits - 24, 2)
        expected = sum(np.array([[math.fsum(part[i] * weights[:, j]) for j in range(w.shape[1])]
                                 for i in range(len(x))]) for part in parts)
        assert np.array_equal(product(x), expected)


_PROBE = """
import hashlib, numpy as np
from tests.conftest import random_network
from tests.test_infer import _pictures
net = random_network(hidden=(512, 256), seed=4)
x = _pictures(70)
print(hashlib.sha256(net.probabilities(x).tobytes() + net.probabilities(x[5:6]).tobytes()).hexdigest())
"""


def test_results_are_the_same_with_any_openblas_kernel(tmp_path):
    """OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some of the project's machines) choose other
    kernels and block sizes: the probabilities stay the same to the last bit, set or unset."""
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    settings = [{}, {"OPENBLAS_CORETYPE": "Sandybridge"}, {"OPENBLAS_CORETYPE": "Haswell",
                                                           "OPENBLAS_L2_SIZE": "262144"}]
    inherited = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    if inherited:
        settings.append(inherited)
    digests = set()
    for extra in settings:
        done = subprocess.run([sys.executable, "-c", _PROBE], cwd=repo, env={**base, **extra},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1
