"""Seeded on-the-fly training augmentation: random affine warps and stroke-thickness changes.

Real pictures are rotated, slanted, off-centre and written with pens of every width; MNIST is
not. Warping each training image a little differently every epoch teaches the network those
variations. Pillow's C warps are the fastest way to do this here (a few seconds per epoch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter

SIDE = 28


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (uniform in ±range); saved in the model's metadata."""

    rotation_degrees: float = 12.0
    scale: float = 0.12
    shear: float = 0.15
    shift_pixels: float = 2.5
    thicken_probability: float = 0.2
    thin_probability: float = 0.15

    def as_dict(self) -> dict:
        return asdict(self)


def augment(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Return randomly transformed copies of uint8 images `x` (N, 784), same shape and dtype."""
    n = len(x)
    angle = np.deg2rad(rng.uniform(-config.rotation_degrees, config.rotation_degrees, n))
    scale = 1 + rng.uniform(-config.scale, config.scale, n)
    shear = rng.uniform(-config.shear, config.shear, n)
    shift = rng.uniform(-config.shift_pixels, config.shift_pixels, (n, 2))
    stroke = rng.random(n)
    thicken = stroke < config.thicken_probability
    thin = ~thicken & (stroke < config.thicken_probability + config.thin_probability)
    out = np.empty_like(x)
    for i in range(n):
        image = Image.fromarray(x[i].reshape(SIDE, SIDE))
        if thicken[i]:
            image = image.filter(ImageFilter.MaxFilter(3))
        elif thin[i]:
            # Full erosion would wipe out 1–2 px strokes; halfway keeps every stroke, only thinner.
            image = Image.blend(image, image.filter(ImageFilter.MinFilter(3)), 0.5)
        matrix = _inverse_affine(angle[i], scale[i], shear[i], shift[i])
        warped = image.transform((SIDE, SIDE), Image.AFFINE, matrix, resample=Image.BILINEAR)
        out[i] = np.asarray(warped).reshape(-1)
    return out


def _inverse_affine(angle: float, scale: float, shear: float, shift) -> tuple[float, ...]:
    """Pillow's AFFINE data: for each output pixel, where to sample in the input.

    The forward map rotates, scales and shears about the centre, then shifts; Pillow wants the
    inverse, as the top two rows of a 3×3 matrix.
    """
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear], [0, 1]]) * scale
    inverse = np.linalg.inv(forward)
    centre = np.array([SIDE / 2, SIDE / 2])
    offset = centre - inverse @ (centre + np.asarray(shift))
    return (*inverse[0], offset[0], *inverse[1], offset[1])
