"""What happens to a real picture of a digit: paper, board or desk, ink, size and place, light, specks, noise, blur."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digitcli.synth.randomness import Rng
from digitcli.synth.encode import to_uint8


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels
PAPER_COLOURS = (  # cream, sticky-note yellow, light blue, pink, light green, recycled, kraft
    (0.97, 0.94, 0.85), (0.99, 0.93, 0.55), (0.84, 0.91, 0.98), (0.98, 0.85, 0.9),
    (0.85, 0.96, 0.85), (0.86, 0.85, 0.81), (0.8, 0.68, 0.52),
)


DESK_COLOURS = ((0.55, 0.38, 0.22), (0.42, 0.42, 0.42), (0.2, 0.18, 0.17), (0.7, 0.62, 0.5))
BOARD_COLOURS = ((0.15, 0.27, 0.21), (0.12, 0.13, 0.14), (0.2, 0.22, 0.25))
INK_COLOURS = {
    "black": (0.08, 0.08, 0.1), "blue": (0.1, 0.2, 0.62), "red": (0.78, 0.1, 0.12),
    "pencil": (0.32, 0.32, 0.34), "chalk": (0.93, 0.93, 0.88), "white": (1.0, 1.0, 1.0),
}


SIZE_FRACTION = {"large": (0.5, 0.85), "medium": (0.28, 0.5), "small": (0.08, 0.2)}  # of height
MIN_LONG_SIDE = {"large": 64, "medium": 96, "small": 360}
MAX_LONG_SIDE = 1600
MIN_DIGIT_PX = 18  # smaller than this and people cannot read it either
ROTATION_DEGREES = {"none": (0.0, 2.0), "small": (2.0, 10.0), "large": (10.0, 25.0)}
LIGHT_INKS = ("chalk", "white")  # these cover a dark ground instead of darkening a light one
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")
MIN_CONTRAST = 0.4  # least luminance difference between paper and fully inked pixels


def rgb(values) -> np.ndarray:
    """A colour (or per-channel gains) as float32, shaped (3, 1, 1) to broadcast over planes."""
    return np.asarray(values, dtype=np.float32).reshape(3, 1, 1)


def _smooth_noise(rng: Rng, shape: tuple[int, int], waves: int = 3) -> np.ndarray:
    """Low-frequency noise (H, W) in about [-1, 1], for paper texture, smudges and desks."""
    h, w = shape
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    total, wave = np.zeros(shape, np.float32), np.empty(shape, np.float32)
    for _ in range(waves):  # products of slow waves: separable, so cheap, and blotchy enough
        fy, fx = rng.uniform(0.3, 2.5) * 2 * math.pi, rng.uniform(0.3, 2.5) * 2 * math.pi
        np.multiply(
            np.cos(fy * y + rng.uniform(0, 7)), np.cos(fx * x + rng.uniform(0, 7)), out=wave
        )
        total += wave
    total *= np.float32(1 / math.sqrt(waves))
    return total


def _grid_lines(n: int, spacing: float, offset: float, width: float) -> np.ndarray:
    """Anti-aliased coverage (0..1) of lines every `spacing` px along one axis of length n."""
    d = np.mod(np.arange(n, dtype=np.float32) - offset, spacing)
    d = np.minimum(d, spacing - d)
    return np.clip(width / 2 + 0.5 - d, 0, 1)


def background(
    kind: str, shape: tuple[int, int], digit_height: int, blur: float, rng: Rng
) -> np.ndarray:
    """The paper or board the digit is on: float32 planes (3, H, W) in [0, 1]."""
    if kind == "chalkboard":
        colour = rgb(BOARD_COLOURS[rng.integers(len(BOARD_COLOURS))])
        smudge = np.clip(_smooth_noise(rng, shape), 0, None) * np.float32(rng.uniform(0.04, 0.12))
        return colour + smudge  # the haze of wiped-off chalk
    if kind in ("white-canvas", "black-canvas"):  # a drawing app's flat canvas
        return np.broadcast_to(rgb([float(kind == "white-canvas")] * 3), (3, *shape)).copy()
    if kind == "coloured-paper":
        colour = rgb(PAPER_COLOURS[rng.integers(len(PAPER_COLOURS))])
    elif kind == "whiteboard":
        colour = rgb([rng.uniform(0.88, 0.97)] * 3)
    else:
        colour = rgb(1 - rng.uniform(0, 0.06, 3) * rng.random())
    texture = _smooth_noise(rng, shape)
    texture *= np.float32(rng.uniform(0.005, 0.025))
    texture += 1
    paper = colour * texture
    if kind in ("lined-paper", "grid-paper"):
        _rule_lines(paper, digit_height, blur, rng, grid=kind == "grid-paper")
    return paper


def _rule_lines(paper: np.ndarray, digit_height: int, blur: float, rng: Rng, *, grid: bool) -> None:
    """Print the lines of a notebook on the paper: ruled (maybe with a red margin) or squared."""
    _, h, w = paper.shape
    spacing = digit_height / (rng.uniform(0.6, 2.2) if grid else rng.uniform(0.7, 2.0))
    width = max(0.8, spacing * rng.uniform(0.02, 0.05))
    colour = rgb((0.55, 0.7, 0.92) if rng.random() < 0.7 else (0.7, 0.7, 0.72))
    strength = np.float32(rng.uniform(0.35, 0.8))
    # Lines along one axis are the same in every row or column: make one strip of multiply
    # factors and broadcast it (crossing lines darken each other, as overlapping ink does).
    rows = _soften_1d(_grid_lines(h, spacing, rng.uniform(0, spacing), width), blur) * strength
    paint_over(paper, rows[:, None], colour)
    if grid:
        columns = _grid_lines(w, spacing, rng.uniform(0, spacing), width)
        paint_over(paper, _soften_1d(columns, blur)[None, :] * strength, colour)
    elif rng.random() < 0.5:
        margin = _soften_1d(_grid_lines(w, 2 * w, rng.uniform(0.05, 0.2) * w, width * 1.5), blur)
        paint_over(paper, margin[None, :], rgb((0.9, 0.35, 0.4)))


def paint_over(base: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    """Ink `base` in place, by multiplying: coloured ink on coloured paper darkens as it does."""
    base *= 1 - coverage * (1 - colour)


def on_desk(paper: np.ndarray, box: Box, blur: float, rng: Rng) -> np.ndarray:
    """Put the sheet of paper on a desk: a tilted rectangle around `box` (x0, y0, x1, y1)."""
    _, h, w = paper.shape
    desk = rgb(DESK_COLOURS[rng.integers(len(DESK_COLOURS))])
    desk = desk * (1 + _smooth_noise(rng, (h, w)) * np.float32(0.08))
    # Half the sheet's width and height: beyond the digit, and often off the picture.
    half_x = (box[2] - box[0]) * 0.62 + 4 + rng.uniform(0.0, 0.6) * w
    half_y = (box[3] - box[1]) * 0.62 + 4 + rng.uniform(0.0, 0.6) * h
    angle = math.radians(rng.uniform(-8, 8))
    x = np.arange(w, dtype=np.float32)[None, :] - (box[0] + box[2]) / 2
    y = np.arange(h, dtype=np.float32)[:, None] - (box[1] + box[3]) / 2
    u = x * math.cos(angle) + y * math.sin(angle)
    v = y * math.cos(angle) - x * math.sin(angle)
    outside = np.maximum(np.abs(u) - half_x, np.abs(v) - half_y)  # px beyond the sheet's edge
    soft = max(0.7, min(w, h) / 500, 2 * blur)
    sheet = np.clip(0.5 - outside / soft, 0, 1)
    shadow = 1 - 0.35 * np.clip(1 - outside / (soft * 8), 0, 1)  # the sheet's shadow on the desk
    return paper * sheet + desk * (shadow * (1 - sheet))


def relight(image: np.ndarray, kind: str, rng: Rng) -> np.ndarray:
    """Light the scene: even (a scanner), a gradient, a vignette or a soft shadow (phone photos)."""
    if kind == "even":
        return image
    _, h, w = image.shape
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    if kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        ramp = (math.cos(a) * (x - 0.5) + math.sin(a) * (y - 0.5)) * 1.42 + 0.5
        light = 1 - rng.uniform(0.25, 0.5) * np.clip(ramp, 0, 1)
    elif kind == "vignette":
        r2 = ((x - rng.uniform(0.35, 0.65)) ** 2 + (y - rng.uniform(0.35, 0.65)) ** 2) * 2
        light = 1 - rng.uniform(0.3, 0.55) * np.clip(r2, 0, 1)
    else:  # the shadow of a hand or phone: a soft-edged dark half-plane across part of the picture
        a = rng.uniform(0, 2 * math.pi)
        d = math.cos(a) * (x - rng.uniform(0.2, 0.8)) + math.sin(a) * (y - rng.uniform(0.2, 0.8))
        light = 1 - rng.uniform(0.3, 0.5) / (1 + np.exp(-d / rng.uniform(0.02, 0.1)))
    gain = rng.uniform(0.82, 1.0) * rng.uniform(0.94, 1.04, 3)  # exposure and white balance
    image *= light
    image *= rgb(gain)
    return image


def add_specks(
    image: np.ndarray,
    avoid: Box,
    stroke: float,
    colour: np.ndarray,
    blur: float,
    rng: Rng,
) -> np.ndarray:
    """Add a few dots of dust or stray ink, away from the digit."""
    _, h, w = image.shape
    layer = Image.new("L", (w, h))
    draw = ImageDraw.Draw(layer)
    margin = 2 * stroke + 4
    for _ in range(int(rng.integers(2, 10))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if avoid[0] - margin < x < avoid[2] + margin and avoid[1] - margin < y < avoid[3] + margin:
            continue  # on the digit it would change what the digit looks like
        r, squash = max(0.7, rng.uniform(0.2, 0.7) * stroke), rng.uniform(0.6, 1.4)
        draw.ellipse((x - r, y - r * squash, x + r, y + r), fill=int(rng.integers(150, 256)))
    box = layer.getbbox()
    if box is None:
        return image
    coverage = np.asarray(layer.crop(box), np.float32) / 255
    coverage, (x0, y0, x1, y1) = pad_box(coverage, box, (h, w), math.ceil(2.5 * blur))
    coverage = soften(coverage, blur)
    paint_over(image[:, y0:y1, x0:x1], coverage, colour)
    return image


@lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """65536 evenly spaced quantiles of the standard normal distribution."""
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf((i + 0.5) / 65536) for i in range(65536)], np.float32)


def _gaussian(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    """Standard normal samples by table look-up: several times faster than standard_normal."""
    return np.take(_normal_quantiles(), rng.integers(0, 65536, shape, dtype=np.uint16))


def add_noise(image: np.ndarray, kind: str, rng: Rng) -> np.ndarray:
    """Sensor noise (Gaussian) or salt-and-pepper speckles."""
    _, h, w = image.shape
    if kind == "gaussian":
        # Phones remove colour noise much more than brightness noise, so the grain left is grey.
        grain = _gaussian((h, w), rng)
        grain *= np.float32(rng.uniform(0.015, 0.06))
        image += grain
    elif kind == "speckles":
        hit = rng.random((h, w), dtype=np.float32) < rng.uniform(0.001, 0.006)
        image[:, hit] = rng.choice(np.array([0.05, 0.95], np.float32), size=int(hit.sum()))
    return image


def picture_size(c: Mapping[str, str], rng: Rng, size: tuple[int, int] | None) -> tuple[int, int]:
    """(height, width) of the picture: `size` (width, height) if given, else ~64 to 1600 px."""
    if size is not None:
        return size[1], size[0]
    low = math.log(MIN_LONG_SIDE[c["size"]])
    long_side = int(math.exp(rng.uniform(low, math.log(MAX_LONG_SIDE))))
    aspect = rng.choice([1.0, 1.0, 4 / 3, 3 / 2, 16 / 9, rng.uniform(1, 1.8)])
    short_side = max(48, int(long_side / aspect))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def place_digit(
    mask: Image.Image, shape: tuple[int, int], size: str, rng: Rng
) -> tuple[np.ndarray, Box]:
    """Where the digit goes: its coverage (0..1) and its box (x0, y0, x1, y1) in the picture."""
    h, w = shape
    fit = min(1.0, 0.96 * h / mask.height, 0.96 * w / mask.width)
    if fit < 1:  # a wide or steeply rotated digit in a narrow picture
        fitted = (max(1, int(mask.width * fit)), max(1, int(mask.height * fit)))
        mask = mask.resize(fitted, Image.Resampling.BOX)
    spare_x, spare_y = w - mask.width, h - mask.height
    if size == "large":  # roughly centred, as when someone photographs "the digit"
        x = int(spare_x / 2 + rng.uniform(-0.15, 0.15) * spare_x)
        y = int(spare_y / 2 + rng.uniform(-0.15, 0.15) * spare_y)
    else:
        x, y = int(rng.uniform(0, spare_x + 1)), int(rng.uniform(0, spare_y + 1))
    return np.asarray(mask, np.float32) / 255, (x, y, x + mask.width, y + mask.height)


def ink_coverage(
    c: Mapping[str, str], coverage: np.ndarray, paper: np.ndarray, stroke: float, rng: Rng
) -> tuple[np.ndarray, np.ndarray]:
    """The ink's colour and how much of it each pixel holds (pencil and chalk are grainy)."""
    colour = rgb(INK_COLOURS[c["ink"]]) * np.float32(rng.uniform(0.9, 1.1))
    opacity = rng.uniform(0.7, 0.9) if c["ink"] == "pencil" else rng.uniform(0.88, 1.0)
    if c["ink"] in ("pencil", "chalk"):
        # The grain follows the paper's or board's texture, so it scales with the stroke.
        cell = max(1, round(stroke / rng.uniform(3, 8)))
        h, w = coverage.shape
        coarse = rng.integers(0, 256, (-(-h // cell), -(-w // cell)), dtype=np.uint8)
        grain = Image.fromarray(coarse).resize((w, h), Image.Resampling.BILINEAR)
        grain = np.asarray(grain, np.float32) / 255
        coverage = coverage * (1 - np.float32(rng.uniform(0.3, 0.7)) * grain)
    if c["ink"] not in LIGHT_INKS:  # keep the digit readable: dim ink on dark paper is made darker
        paper_luma = float(LUMA @ paper.reshape(3, -1).mean(1))
        ink_luma = float(LUMA @ (1 - opacity * (1 - colour.ravel()))) * paper_luma
        shortfall = MIN_CONTRAST - (paper_luma - ink_luma)
        if shortfall > 0:
            colour = colour * max(0.0, 1 - shortfall / paper_luma / opacity)
    return colour.clip(0, 1), coverage * np.float32(opacity)


def pad_box(
    coverage: np.ndarray, box: Box, shape: tuple[int, int], pad: int
) -> tuple[np.ndarray, Box]:
    """Grow a coverage map's box by `pad` px a side (within the picture), filling with zeros."""
    x0, y0, x1, y1 = box
    grown = (max(0, x0 - pad), max(0, y0 - pad), min(shape[1], x1 + pad), min(shape[0], y1 + pad))
    out = np.zeros((grown[3] - grown[1], grown[2] - grown[0]), np.float32)
    out[y0 - grown[1] : y1 - grown[1], x0 - grown[0] : x1 - grown[0]] = coverage
    return out, grown


def blur_radius(kind: str, stroke: float, rng: Rng) -> float:
    """Defocus radius in px: kept below the stroke width so strokes stay visible."""
    if kind == "none":
        return 0.0
    low, high = (0.08, 0.2) if kind == "slight" else (0.25, 0.5)
    return max(0.5, stroke * rng.uniform(low, high))


# Defocus is applied to each sharp ingredient (the digit, ruled lines, specks, the paper's edge)
# rather than to the finished picture: everything else is smooth, blurring is linear, and this
# is many times faster than blurring megapixels.
def soften(coverage: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian-blur a 2-D coverage map (0..1) by `radius` px."""
    if radius <= 0:
        return coverage
    blurred = Image.fromarray(to_uint8(coverage)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, np.float32) / 255


def _soften_1d(profile: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian-blur a 1-D coverage profile by `radius` px."""
    if radius <= 0:
        return profile
    x = np.arange(-math.ceil(3 * radius), math.ceil(3 * radius) + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / radius) ** 2)
    padded = np.pad(profile, len(x) // 2, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid").astype(np.float32)
