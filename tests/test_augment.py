"""Training augmentation: seeded, shape- and range-preserving, and each degradation really acts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from digitcli.training.augment import AugmentConfig, augment, degrade


def digits(n: int = 12) -> np.ndarray:
    """MNIST-like uint8 images (n, 784): a thick ring or bar with anti-aliased edges."""
    rows, cols = np.mgrid[0:28, 0:28]
    ring = np.clip(3 - np.abs(np.hypot(rows - 14, cols - 14) - 7), 0, 1)
    bar = np.clip(2.5 - np.abs(cols - 14), 0, 1) * (np.abs(rows - 14) < 10)
    shapes = [ring, bar]
    return np.stack([(255 * shapes[i % 2]).astype(np.uint8).ravel() for i in range(n)])


NOTHING = AugmentConfig(
    rotation_degrees=0, scale=0, shear=0, shift_pixels=0, thicken_probability=0,
    thin_probability=0, elastic_probability=0, blur_probability=0, lowres_probability=0,
    jpeg_probability=0, ink_probability=0, noise_probability=0,
)
DEGRADATIONS = ("elastic", "blur", "lowres", "jpeg", "ink", "noise")


def test_same_seed_same_images_and_other_seeds_differ():
    x = digits()
    first = augment(x, np.random.default_rng([3, 1]), AugmentConfig())
    again = augment(x, np.random.default_rng([3, 1]), AugmentConfig())
    other = augment(x, np.random.default_rng([3, 2]), AugmentConfig())
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_shape_dtype_and_range_are_kept():
    x = digits(40)
    out = augment(x, np.random.default_rng(0), AugmentConfig())
    assert out.shape == x.shape and out.dtype == np.uint8
    assert not np.array_equal(out, x)


def test_with_every_transform_off_images_are_unchanged():
    x = digits()
    assert np.array_equal(augment(x, np.random.default_rng(0), NOTHING), x)


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_each_degradation_changes_the_digit_and_keeps_it_at_full_ink(name):
    x = digits()
    config = dataclasses.replace(NOTHING, **{f"{name}_probability": 1.0})
    out = degrade(x, np.random.default_rng(7), config)
    assert out.shape == x.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - x).sum(axis=1)
    assert (changed > 0).all()  # every image got it
    # Preprocessing always brings a digit's strongest ink to 255; degraded images must match.
    assert (out.max(axis=1) == 255).all()
    # Still the same digit: most of the ink stays where it was.
    overlap = np.minimum(out, x).sum(axis=1) / x.sum(axis=1)
    assert (overlap > 0.5).all()


def test_blur_and_low_resolution_soften_edges():
    x = digits()
    for name in ("blur", "lowres"):
        config = dataclasses.replace(NOTHING, **{f"{name}_probability": 1.0})
        out = degrade(x, np.random.default_rng(1), config)
        mid_tones = lambda a: ((a > 30) & (a < 225)).sum()  # noqa: E731
        assert mid_tones(out) > 1.3 * mid_tones(x)
