"""Seeded on-the-fly training augmentation: warps, stroke changes and picture degradations.

Real pictures are rotated, slanted, off-centre and written with pens of every width; MNIST is
not. Warping each training image a little differently every epoch teaches the network those
variations. After preprocessing, real pictures also arrive blurred (defocus, a small digit
scaled up, a low-quality JPEG), with wobbly strokes and uneven ink, so a share of the training
images is degraded the same way in 28×28 space. Pillow's C filters are the fastest way to do this
per image here (a few seconds per epoch); the rest is vectorised NumPy.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter

SIDE = 28


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and shares of the random transforms; saved with the model.

    Warps are uniform in ±range; (low, high) pairs are uniform between the two.
    """

    rotation_degrees: float = 12.0
    scale: float = 0.12
    shear: float = 0.15
    shift_pixels: float = 2.5
    thicken_probability: float = 0.2
    thin_probability: float = 0.15
    # Degradations: each is applied to this share of the images, independently of the others.
    # Measured (issue #3): with printed digits in the data they add ~0.5 points on realistic
    # pictures and cost ~0.05 on MNIST; the shares were not tuned further.
    elastic_probability: float = 0.3
    elastic_pixels: float = 1.2  # typical displacement of the smooth wobble field
    blur_probability: float = 0.15
    blur_radius: tuple[float, float] = (0.4, 1.1)  # Gaussian, px at 28×28
    lowres_probability: float = 0.15
    lowres_side: tuple[int, int] = (9, 16)  # shrunk to this many px, then scaled back up
    jpeg_probability: float = 0.1
    jpeg_quality: tuple[int, int] = (10, 40)
    ink_probability: float = 0.2  # uneven ink: gamma, and grainy pencil/chalk-like strokes
    noise_probability: float = 0.1
    noise_sigma: float = 0.08  # of full ink, on the strokes' neighbourhood only

    def as_dict(self) -> dict:
        return asdict(self)


def augment(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Return randomly transformed copies of uint8 images `x` (N, 784), same shape and dtype."""
    out = _warp(x, rng, config)
    return degrade(out, rng, config)


def _warp(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Random affine warps and thicker/thinner strokes."""
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


def degrade(x: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Elastic wobble, blur, low resolution, JPEG, uneven ink and noise on random shares of `x`.

    Preprocessing scales every digit so its strongest ink is 255, so each degraded image is
    brought back to that peak too: otherwise the network would learn "faint means blurred".
    """
    n = len(x)
    chosen = rng.random((6, n)) < np.array([
        config.elastic_probability, config.blur_probability, config.lowres_probability,
        config.jpeg_probability, config.ink_probability, config.noise_probability,
    ])[:, None]
    images = x.reshape(n, SIDE, SIDE).astype(np.float32)
    elastic, blur, lowres, jpeg, ink, noise = chosen
    if elastic.any():
        images[elastic] = _elastic(images[elastic], rng, config.elastic_pixels)
    for i in np.flatnonzero(blur):
        radius = rng.uniform(*config.blur_radius)
        images[i] = _pil(images[i], lambda im: im.filter(ImageFilter.GaussianBlur(radius)))
    for i in np.flatnonzero(lowres):
        side = int(rng.integers(config.lowres_side[0], config.lowres_side[1] + 1))
        up = (Image.BILINEAR, Image.BICUBIC)[int(rng.integers(2))]
        images[i] = _pil(images[i], lambda im: im.resize((side, side), Image.BOX)
                         .resize((SIDE, SIDE), up))
    for i in np.flatnonzero(jpeg):
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        images[i] = _pil(images[i], lambda im: _jpeg(im, quality))
    if ink.any():
        images[ink] = _uneven_ink(images[ink], rng)
    if noise.any():
        images[noise] = _noise(images[noise], rng, config.noise_sigma)
    changed = chosen.any(axis=0)
    peak = images[changed].max(axis=(1, 2), keepdims=True)
    images[changed] *= 255 / np.maximum(peak, 1)
    return np.clip(images + 0.5, 0, 255).astype(np.uint8).reshape(n, -1)


def _pil(image: np.ndarray, operation) -> np.ndarray:
    """Apply a Pillow operation to one float 28×28 image."""
    result = operation(Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8)))
    return np.asarray(result, np.float32)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    """Save and reopen as JPEG: blocky, ringing edges like a low-quality phone picture."""
    buffer = io.BytesIO()
    # JPEG's artefacts come from the inverted picture (dark ink on light paper), as in real files.
    image.point(_INVERT).save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).point(_INVERT)


_INVERT = [255 - v for v in range(256)]


def _elastic(images: np.ndarray, rng: np.random.Generator, pixels: float) -> np.ndarray:
    """Resample each image through a smooth random displacement field (hand-drawn wobble)."""
    n = len(images)
    # A 4×4 grid of random displacements, interpolated smoothly over the 28×28 image.
    coarse = rng.normal(0, pixels, (n, 2, 4, 4)).astype(np.float32)
    spread = _interpolation_matrix(4, SIDE)
    field = spread @ coarse @ spread.T
    rows, cols = np.meshgrid(np.arange(SIDE, dtype=np.float32), np.arange(SIDE, dtype=np.float32),
                             indexing="ij")
    return _bilinear(images, rows + field[:, 0], cols + field[:, 1])


def _interpolation_matrix(coarse: int, fine: int) -> np.ndarray:
    """(fine, coarse) weights that linearly interpolate `coarse` evenly spaced values."""
    position = np.linspace(0, coarse - 1, fine)
    low = np.minimum(position.astype(int), coarse - 2)
    weight = position - low
    matrix = np.zeros((fine, coarse), np.float32)
    matrix[np.arange(fine), low] = 1 - weight
    matrix[np.arange(fine), low + 1] = weight
    return matrix


def _bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample images (n, H, W) at float positions (n, H, W); outside the frame is background."""
    wide = SIDE + 2  # a border of background, so positions just outside read zeros
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1))).ravel()
    rows = np.clip(rows + 1, 0, SIDE)
    cols = np.clip(cols + 1, 0, SIDE)
    r0 = np.minimum(rows.astype(np.int32), SIDE)
    c0 = np.minimum(cols.astype(np.int32), SIDE)
    fr, fc = rows - r0.astype(np.float32), cols - c0.astype(np.float32)
    # Flat indices: one gather per corner is many times faster than 3-D fancy indexing.
    at = (np.arange(len(images), dtype=np.int32)[:, None, None] * wide + r0) * wide + c0
    top = padded[at] * (1 - fc) + padded[at + 1] * fc
    bottom = padded[at + wide] * (1 - fc) + padded[at + wide + 1] * fc
    return top * (1 - fr) + bottom * fr


def _uneven_ink(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma on the ink (faint or saturated strokes) and, for half, coarse grain as from pencil."""
    n = len(images)
    gamma = np.exp(rng.uniform(np.log(0.5), np.log(2.0), (n, 1, 1))).astype(np.float32)
    images = 255 * (images / 255) ** gamma
    grainy = rng.random(n) < 0.5
    # Grain 2 px across, so it survives as texture instead of averaging out.
    grain = rng.random((n, SIDE // 2, SIDE // 2)).astype(np.float32).repeat(2, 1).repeat(2, 2)
    depth = rng.uniform(0.3, 0.7, (n, 1, 1)).astype(np.float32)
    images[grainy] *= 1 - depth[grainy] * grain[grainy]
    return images


def _noise(images: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Grey noise near the strokes: preprocessing clears the paper, but not around the ink."""
    near = _dilate3(images > 0)
    noise = rng.normal(0, 255 * sigma, images.shape).astype(np.float32)
    return np.clip(images + noise * near, 0, None)


def _dilate3(mask: np.ndarray) -> np.ndarray:
    """3×3 binary dilation of masks (n, H, W)."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros_like(mask)
    for dr in range(3):
        for dc in range(3):
            out |= padded[:, dr : dr + SIDE, dc : dc + SIDE]
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
