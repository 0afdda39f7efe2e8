"""European 1s made from plain ones: a flag up and to the left of the top, MNIST framing kept."""

from __future__ import annotations

import numpy as np
import pytest

from digitcli.vision.preprocess import to_mnist
from digitcli.training.variants import flagged_one, flagged_ones


def plain_one(slant: float = 0.0) -> np.ndarray:
    """A 20 px bar, 3 px wide, like MNIST's plain 1 (`slant`: px the top leans to the right)."""
    one = np.zeros((28, 28), np.uint8)
    for row in range(4, 24):
        centre = 14 + slant * (14 - row) / 20
        one[row, round(centre) - 1 : round(centre) + 2] = 255
    return one


def top_ink(picture: np.ndarray) -> np.ndarray:
    """x of the ink in the top 8 rows of the digit."""
    ys, xs = np.nonzero(picture > 127)
    return xs[ys < ys.min() + 8]


def flag_end(picture: np.ndarray) -> tuple[float, float]:
    """The leftmost ink of the top 8 rows, relative to the middle of the top row (x, y down)."""
    ys, xs = np.nonzero(picture > 127)
    top = ys < ys.min() + 8
    left = np.argmin(np.where(top, xs, 99))
    return xs[left] - xs[ys == ys.min()].mean(), ys[left] - ys.min()


@pytest.mark.parametrize("slant", [-4.0, 0.0, 4.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_flag_leaves_the_top_to_the_lower_left(slant, seed):
    plain = to_mnist(plain_one(slant).astype(np.float32) / 255)  # framed the same way
    flagged = flagged_one(plain_one(slant), np.random.default_rng(seed))
    assert flagged.shape == (28, 28) and flagged.dtype == np.uint8
    # The top of the digit is wider than the plain bar's, and the flag goes down to the left.
    assert np.ptp(top_ink(flagged)) >= np.ptp(top_ink(plain)) + 2
    dx, dy = flag_end(flagged)
    assert dx <= -2 and dy >= 1
    # Still framed like MNIST: 20 px tall, centred by mass.
    ys, xs = np.nonzero(flagged)
    assert ys.max() - ys.min() + 1 in (20, 21, 22)
    weights = flagged[ys, xs].astype(float)
    assert abs(np.average(xs, weights=weights) - 13.5) < 1.5
    assert abs(np.average(ys, weights=weights) - 13.5) < 1.5


def test_a_seeded_share_of_the_ones_only():
    x = np.stack([plain_one(s).reshape(784) for s in (-3, 0, 3)] + [np.zeros(784, np.uint8)] * 3)
    y = np.array([1, 1, 1, 7, 7, 7])
    first = flagged_ones(x, y, 2 / 3, np.random.default_rng(5))
    again = flagged_ones(x, y, 2 / 3, np.random.default_rng(5))
    assert first.shape == (2, 28, 28)
    np.testing.assert_array_equal(first, again)
