"""The generators' randomness: a NumPy Generator passed explicitly, and a weighted choice."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


Rng = np.random.Generator


def pick(rng: Rng, weights: Mapping[str, float]) -> str:
    """One key of `weights`, drawn with those relative weights."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]
