"""The NumPy forward pass: stable softmax, and the same numbers as Keras on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from digitcli.infer import cross_entropy, softmax
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
    from digitcli.model import to_keras

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
