"""Seeded generator of labelled, realistic digit pictures: phone photos and scans, not MNIST.

Each picture shows one digit 0-9, either handwritten (per-digit pen-stroke templates with several
allographs, jittered, slanted, with pen pressure) or printed (the machine's TrueType fonts), then
put through what happens to real pictures: a phone photo, a scan or a drawing app; paper, board or
desk; ink; size and position; rotation; lighting; noise; blur; compression; EXIF rotation; and
every common file format and pixel mode.  Every picture records the conditions it got, so
accuracy can be measured per condition.

No MNIST data is used here.  Everything is drawn from a NumPy Generator seeded per picture, so a
seed gives the same files byte for byte on the same machine, and the first N pictures of a seed do
not depend on how many are asked for.

    python -m digitcli.synth.realistic OUT_DIR --count 1000 --seed 0
    python -m digitcli.synth.realistic sample_images --samples
    python -m digitcli.synth.realistic printed.npz --printed --count 6000 --seed 0   # training digits
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Rng = np.random.Generator
Stroke = list[tuple[float, float]]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels

KINDS = ("strokes", "font")
KIND_WEIGHTS = {"strokes": 0.7, "font": 0.3}  # users mostly photograph handwriting

# fmt: off
# How the picture was made, then each condition and how often it occurs for that kind of picture.
# Photos are lit unevenly, grainy and saved as JPEG; scans are evenly lit and saved in every
# format scanners offer; drawing apps make clean pictures, often with a transparent background.
CAPTURES = {"photo": 0.55, "scan": 0.3, "digital": 0.15}
COMMON: dict[str, dict[str, float]] = {
    "ink": {"black": 0.4, "blue": 0.3, "red": 0.1, "pencil": 0.2},
    "size": {"large": 0.45, "medium": 0.3, "small": 0.25},
    "rotation": {"none": 0.4, "small": 0.4, "large": 0.2},
}
BY_CAPTURE: dict[str, dict[str, dict[str, float]]] = {
    "photo": {
        "background": {"white-paper": 0.2, "coloured-paper": 0.12, "lined-paper": 0.16,
                       "grid-paper": 0.1, "paper-on-desk": 0.2, "chalkboard": 0.12,
                       "whiteboard": 0.1},
        "lighting": {"even": 0.15, "gradient": 0.3, "vignette": 0.25, "shadow": 0.3},
        "noise": {"none": 0.25, "gaussian": 0.55, "speckles": 0.05, "specks": 0.15},
        "blur": {"none": 0.45, "slight": 0.35, "defocus": 0.2},
        # Phones save JPEG (and convert HEIC to JPEG to share); some apps re-save as WebP or PNG.
        "format": {"jpeg": 0.45, "jpeg-exif": 0.27, "jpeg-low": 0.1, "webp": 0.12, "png": 0.06},
    },
    "scan": {
        "background": {"white-paper": 0.4, "coloured-paper": 0.2, "lined-paper": 0.25,
                       "grid-paper": 0.15},
        "lighting": {"even": 1.0},
        "noise": {"none": 0.5, "speckles": 0.25, "specks": 0.25},  # dust on the glass
        "blur": {"none": 0.7, "slight": 0.3},
        "format": {"png": 0.16, "png-gray": 0.14, "png-16bit": 0.12, "png-bilevel": 0.1,
                   "jpeg": 0.14, "tiff": 0.1, "tiff-cmyk": 0.06, "jpeg-cmyk": 0.06, "bmp": 0.06,
                   "gif": 0.06},
    },
    "digital": {
        "background": {"white-canvas": 0.45, "transparent": 0.4, "black-canvas": 0.15},
        "lighting": {"even": 1.0},
        "noise": {"none": 1.0},
        "blur": {"none": 1.0},
        "format": {"png": 0.45, "webp": 0.25, "gif": 0.15, "bmp": 0.15},
    },
}
# (Pillow format, file extension) of each format condition.  png-rgba is what every transparent
# background gets; png-16bit is mode I;16, png-bilevel mode 1, the -cmyk ones mode CMYK.
FORMATS = {
    "png": ("PNG", "png"), "png-gray": ("PNG", "png"), "png-16bit": ("PNG", "png"),
    "png-bilevel": ("PNG", "png"), "png-rgba": ("PNG", "png"), "jpeg": ("JPEG", "jpg"),
    "jpeg-low": ("JPEG", "jpg"), "jpeg-exif": ("JPEG", "jpg"), "jpeg-cmyk": ("JPEG", "jpg"),
    "bmp": ("BMP", "bmp"), "webp": ("WEBP", "webp"), "tiff": ("TIFF", "tif"),
    "tiff-cmyk": ("TIFF", "tif"), "gif": ("GIF", "gif"),
}
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
# fmt: on
CONDITION_KEYS = ("capture", "background", *COMMON, "lighting", "noise", "blur", "format")
# Columns of labels.csv after path and label; "style" is the allograph or the font.
CSV_KEYS = (
    "kind", "style", *CONDITION_KEYS, "angle", "digit_height", "width", "height", "exif_orientation"
)  # fmt: skip
FILENAME_KEYS = ("kind", "background", "ink", "size", "format")

SIZE_FRACTION = {"large": (0.5, 0.85), "medium": (0.28, 0.5), "small": (0.08, 0.2)}  # of height
MIN_LONG_SIDE = {"large": 64, "medium": 96, "small": 360}
MAX_LONG_SIDE = 1600
MIN_DIGIT_PX = 18  # smaller than this and people cannot read it either
ROTATION_DEGREES = {"none": (0.0, 2.0), "small": (2.0, 10.0), "large": (10.0, 25.0)}
EXIF_ORIENTATIONS = (3, 6, 8)  # what phones write: upside down, and the two sideways holds
# How a viewer undoes each orientation (as ImageOps.exif_transpose does) and how we cause it.
_T = Image.Transpose
_VIEW = {3: _T.ROTATE_180, 6: _T.ROTATE_270, 8: _T.ROTATE_90}
_STORE = {3: _T.ROTATE_180, 6: _T.ROTATE_90, 8: _T.ROTATE_270}
LIGHT_INKS = ("chalk", "white")  # these cover a dark ground instead of darkening a light one
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")
MIN_CONTRAST = 0.4  # least luminance difference between paper and fully inked pixels


@dataclass(frozen=True)
class Sample:
    """One labelled picture: the pixels as stored, how to encode them, and the conditions used."""

    label: int
    conditions: dict[str, str]
    image: Image.Image
    format: str  # Pillow format name: PNG, JPEG, BMP, WEBP, TIFF or GIF
    exif_orientation: int | None
    save_options: dict[str, object] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        """The file extension for this sample's format (without the dot)."""
        return FORMATS[self.conditions["format"]][1]

    def encode(self) -> bytes:
        """The file's bytes, EXIF orientation included."""
        options = dict(self.save_options)
        if self.exif_orientation is not None:
            exif = Image.Exif()
            exif[0x0112] = self.exif_orientation
            options["exif"] = exif.tobytes()
        buffer = io.BytesIO()
        self.image.save(buffer, self.format, **options)
        return buffer.getvalue()

    def upright(self) -> Image.Image:
        """The picture as a viewer that applies EXIF orientation shows it."""
        if self.exif_orientation is None:
            return self.image.copy()
        return self.image.transpose(_VIEW[self.exif_orientation])


# --- the digit --------------------------------------------------------------------------------


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an elliptic arc, angles in degrees (0 = right, 90 = down: y grows downwards)."""
    angles = np.deg2rad(np.linspace(start, end, max(3, int(abs(end - start) / 30) + 1)))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Handwriting allographs.  Each stroke is a smooth curve through its points (x right, y down, the
# digit in about [0, 1]²); a sharp corner is two strokes that share an end point.
# fmt: off
TEMPLATES: dict[int, dict[str, list[Stroke]]] = {
    0: {
        "oval": [_arc(0.5, 0.5, 0.32, 0.48, -95, -465)],
        "narrow": [_arc(0.5, 0.5, 0.22, 0.5, -70, -425)],
    },
    1: {
        "plain": [[(0.52, 0.0), (0.5, 1.0)]],
        "flag": [[(0.36, 0.2), (0.55, 0.0)], [(0.55, 0.0), (0.53, 1.0)]],
        "flag-base": [[(0.36, 0.18), (0.55, 0.0)], [(0.55, 0.0), (0.55, 1.0)],
                      [(0.3, 1.0), (0.8, 1.0)]],
    },
    2: {
        "plain": [[*_arc(0.5, 0.3, 0.3, 0.28, 195, 395), (0.2, 1.0)], [(0.2, 1.0), (0.85, 0.98)]],
        "loop": [[*_arc(0.5, 0.3, 0.3, 0.28, 195, 395), (0.3, 0.86), (0.2, 0.97), (0.13, 0.9),
                  (0.22, 0.83), (0.35, 0.9), (0.5, 0.98), (0.88, 0.96)]],
    },
    3: {
        "round": [_arc(0.48, 0.26, 0.3, 0.24, 200, 440), _arc(0.48, 0.72, 0.33, 0.27, 250, 505)],
        "flat-top": [[(0.2, 0.04), (0.8, 0.04)], [(0.8, 0.04), (0.42, 0.42)],
                     [(0.42, 0.42), *_arc(0.48, 0.7, 0.33, 0.28, 275, 505)]],
    },
    4: {
        "open": [[(0.25, 0.0), (0.18, 0.62)], [(0.18, 0.62), (0.9, 0.6)],
                 [(0.68, 0.05), (0.7, 1.0)]],
        "closed": [[(0.66, 0.0), (0.12, 0.66)], [(0.12, 0.66), (0.9, 0.66)],
                   [(0.66, 0.0), (0.66, 1.0)]],
    },
    5: {
        "plain": [[(0.78, 0.02), (0.3, 0.03)], [(0.3, 0.03), (0.26, 0.46)],
                  [(0.26, 0.46), *_arc(0.48, 0.69, 0.31, 0.29, 255, 505)]],
        "slanted": [[(0.32, 0.04), (0.85, 0.0)], [(0.32, 0.04), (0.2, 0.5)],
                    [(0.2, 0.5), *_arc(0.46, 0.7, 0.33, 0.29, 245, 510)]],
    },
    6: {
        "round": [[(0.74, 0.03), (0.45, 0.16), (0.25, 0.45), (0.25, 0.76), (0.47, 0.98),
                   (0.72, 0.88), (0.76, 0.68), (0.56, 0.54), (0.3, 0.62)]],
        "straight": [[(0.66, 0.0), (0.28, 0.6), (0.3, 0.86), (0.5, 0.99), (0.72, 0.84),
                      (0.68, 0.6), (0.44, 0.56), (0.28, 0.68)]],
    },
    7: {
        "plain": [[(0.15, 0.04), (0.86, 0.04)], [(0.86, 0.04), (0.4, 1.0)]],
        "bar": [[(0.15, 0.04), (0.86, 0.04)], [(0.86, 0.04), (0.42, 1.0)],
                [(0.38, 0.52), (0.86, 0.5)]],
        "hook": [[(0.12, 0.2), (0.16, 0.06), (0.86, 0.06)],
                 [(0.86, 0.06), (0.6, 0.45), (0.46, 1.0)]],
    },
    8: {
        "single": [[(0.72, 0.16), (0.5, 0.02), (0.28, 0.15), (0.33, 0.36), (0.67, 0.6),
                    (0.74, 0.84), (0.5, 0.99), (0.26, 0.85), (0.32, 0.62), (0.67, 0.38),
                    (0.72, 0.16)]],
        "loops": [_arc(0.5, 0.24, 0.23, 0.24, 90, 460), _arc(0.5, 0.72, 0.28, 0.27, -90, 275)],
    },
    9: {
        "straight": [_arc(0.45, 0.28, 0.27, 0.27, 10, -355), [(0.73, 0.2), (0.7, 1.0)]],
        "curved": [_arc(0.45, 0.28, 0.27, 0.27, 10, -355),
                   [(0.73, 0.2), (0.73, 0.6), (0.6, 0.92), (0.36, 0.98), (0.22, 0.88)]],
    },
}
# fmt: on


def _pick(rng: Rng, weights: Mapping[str, float]) -> str:
    """One key of `weights`, drawn with those relative weights."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _spline(points: np.ndarray) -> np.ndarray:
    """A Catmull-Rom curve through the points (n, 2), densely sampled."""
    if len(points) == 2:
        return np.linspace(points[0], points[1], 16)
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    # Each piece runs from p[i+1] to p[i+2]: a cubic in t weighting p[i .. i+3] by this basis.
    basis = 0.5 * np.array([[0, 2, 0, 0], [-1, 0, 1, 0], [2, -5, 4, -1], [-1, 3, -3, 1]])
    weights = np.vander(np.linspace(0, 1, 16, endpoint=False), 4, increasing=True) @ basis
    return np.vstack([*(weights @ p[i : i + 4] for i in range(len(p) - 3)), p[-2]])


def _deform(strokes: list[Stroke], rng: Rng) -> list[np.ndarray]:
    """Jitter the control points, then warp, slant and stretch the whole digit as a hand does."""
    # One jitter per distinct point, so strokes that share an end point stay joined.
    points = dict.fromkeys(q for stroke in strokes for q in stroke)
    jitter = {q: np.add(q, rng.normal(0, 0.02, 2)) for q in points}
    curves = [_spline(np.array([jitter[q] for q in stroke])) for stroke in strokes]
    freq, phase = rng.uniform(3, 7.5, 4), rng.uniform(0, 2 * math.pi, 4)
    amp = rng.uniform(0, 0.045, 4)
    slant, aspect = rng.uniform(-0.15, 0.4), rng.uniform(0.72, 1.2)
    deformed = []
    for curve in curves:
        x, y = curve.T
        # A smooth displacement field, the same for every stroke: wobbly but still joined.
        x = x + amp[0] * np.sin(freq[0] * y + phase[0]) + amp[1] * np.sin(freq[1] * x + phase[1])
        y = y + amp[2] * np.sin(freq[2] * x + phase[2]) + amp[3] * np.sin(freq[3] * y + phase[3])
        deformed.append(np.column_stack([0.5 + (x - 0.5) * aspect + slant * (0.5 - y), y]))
    return deformed


def _resample(curve: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every `spacing` along a curve, and how far along (0..1) each one is."""
    lengths = np.r_[0, np.cumsum(np.hypot(*np.diff(curve, axis=0).T))]
    s = np.linspace(0, lengths[-1], max(2, int(lengths[-1] / spacing) + 1))
    points = np.column_stack(
        [np.interp(s, lengths, curve[:, 0]), np.interp(s, lengths, curve[:, 1])]
    )
    return points, s / max(lengths[-1], 1e-9)


def _draw_strokes(label: int, height: int, rng: Rng) -> tuple[Image.Image, str]:
    """A handwritten digit as an L coverage mask with ink `height` px tall, and its allograph."""
    style = str(rng.choice(sorted(TEMPLATES[label])))
    curves = _deform(TEMPLATES[label][style], rng)
    scale = min(4 * height, 768)  # draw at up to 4x and shrink: anti-aliasing for free
    # Pens run from fine ballpoints to markers; fine ones are the most common.
    width = max(math.exp(rng.uniform(math.log(0.035), math.log(0.15))) * height, 1.5)
    width *= scale / height
    top_left = np.min(np.vstack(curves), axis=0)
    extent = np.max(np.vstack(curves), axis=0) - top_left
    unit = scale / extent[1]
    size = tuple((extent * unit + 2 * width + 4).astype(int))
    mask = np.zeros(size[::-1], dtype=np.uint8)
    for curve in curves:
        layer = Image.new("L", size)
        draw = ImageDraw.Draw(layer)
        points, t = _resample((curve - top_left) * unit + width + 2, max(width * 0.15, 0.7))
        # Pen pressure: width and darkness swell and fade along the stroke, thinner at the ends.
        cycles, phase = rng.uniform(0.5, 1.5), rng.uniform(0, 1)
        pressure = 1 + rng.uniform(0, 0.3) * np.sin(2 * math.pi * (cycles * t + phase))
        taper = 0.65 + 0.35 * np.minimum(1, np.minimum(t, 1 - t) / 0.08)
        radii = width / 2 * pressure * taper
        values = 255 * np.clip(rng.uniform(0.85, 1.0) + 0.1 * (pressure - 1), 0, 1)
        for (x, y), r, v in zip(points, radii, values):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=int(v))
        mask = np.maximum(mask, np.asarray(layer))
    return _fit_height(Image.fromarray(mask), height), f"{label}-{style}"


def _fit_height(mask: Image.Image, height: int) -> Image.Image:
    """Crop a coverage mask to its ink and scale it so the ink is `height` px tall."""
    mask = mask.crop(mask.getbbox())
    width = max(1, round(mask.width * height / mask.height))
    resample = Image.Resampling.BOX if mask.height > height else Image.Resampling.BICUBIC
    return mask.resize((width, height), resample)


@lru_cache(maxsize=1)
def font_paths() -> tuple[str, ...]:
    """The machine's TrueType/OpenType fonts, sorted so choices are reproducible."""
    fonts = Path("/usr/share/fonts")
    return tuple(sorted({str(p) for pattern in ("*.ttf", "*.otf") for p in fonts.rglob(pattern)}))


def _draw_font(
    label: int, height: int, rng: Rng, paths: Sequence[str] | None = None
) -> tuple[Image.Image, str]:
    """A printed digit in a random font, weight and slant: an L mask with ink `height` px tall."""
    paths = font_paths() if paths is None else paths
    size = min(4 * height, 600)
    if paths:
        path = paths[rng.integers(len(paths))]
        font, style = ImageFont.truetype(path, size), Path(path).stem
    else:
        font, style = ImageFont.load_default(size=size), "pillow-default"
    bold = int(rng.uniform(0, 0.04) * size) if rng.random() < 0.4 else 0  # synthetic bold
    canvas = Image.new("L", (2 * size, 2 * size))
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (size // 2, size // 4), str(label), fill=255, font=font, stroke_width=bold, stroke_fill=255
    )
    canvas = canvas.crop(canvas.getbbox())
    shear = rng.uniform(-0.25, 0.25) if rng.random() < 0.5 else 0.0  # synthetic italics
    if shear:
        extra = abs(shear) * canvas.height
        matrix = (1, shear, -extra if shear > 0 else 0, 0, 1, 0)
        target = (int(canvas.width + extra) + 2, canvas.height)
        canvas = canvas.transform(target, Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC)
    return _fit_height(canvas, height), style


# --- the picture around the digit --------------------------------------------------------------
# Pictures are float32 planes (channels, height, width) in [0, 1]: broadcasting a colour over
# whole rows is many times faster in NumPy than over a trailing axis of length 3.


def _rgb(values) -> np.ndarray:
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


def _background(
    kind: str, shape: tuple[int, int], digit_height: int, blur: float, rng: Rng
) -> np.ndarray:
    """The paper or board the digit is on: float32 planes (3, H, W) in [0, 1]."""
    if kind == "chalkboard":
        colour = _rgb(BOARD_COLOURS[rng.integers(len(BOARD_COLOURS))])
        smudge = np.clip(_smooth_noise(rng, shape), 0, None) * np.float32(rng.uniform(0.04, 0.12))
        return colour + smudge  # the haze of wiped-off chalk
    if kind in ("white-canvas", "black-canvas"):  # a drawing app's flat canvas
        return np.broadcast_to(_rgb([float(kind == "white-canvas")] * 3), (3, *shape)).copy()
    if kind == "coloured-paper":
        colour = _rgb(PAPER_COLOURS[rng.integers(len(PAPER_COLOURS))])
    elif kind == "whiteboard":
        colour = _rgb([rng.uniform(0.88, 0.97)] * 3)
    else:
        colour = _rgb(1 - rng.uniform(0, 0.06, 3) * rng.random())
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
    colour = _rgb((0.55, 0.7, 0.92) if rng.random() < 0.7 else (0.7, 0.7, 0.72))
    strength = np.float32(rng.uniform(0.35, 0.8))
    # Lines along one axis are the same in every row or column: make one strip of multiply
    # factors and broadcast it (crossing lines darken each other, as overlapping ink does).
    rows = _soften_1d(_grid_lines(h, spacing, rng.uniform(0, spacing), width), blur) * strength
    _paint(paper, rows[:, None], colour)
    if grid:
        columns = _grid_lines(w, spacing, rng.uniform(0, spacing), width)
        _paint(paper, _soften_1d(columns, blur)[None, :] * strength, colour)
    elif rng.random() < 0.5:
        margin = _soften_1d(_grid_lines(w, 2 * w, rng.uniform(0.05, 0.2) * w, width * 1.5), blur)
        _paint(paper, margin[None, :], _rgb((0.9, 0.35, 0.4)))


def _paint(base: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    """Ink `base` in place, by multiplying: coloured ink on coloured paper darkens as it does."""
    base *= 1 - coverage * (1 - colour)


def _on_desk(paper: np.ndarray, box: Box, blur: float, rng: Rng) -> np.ndarray:
    """Put the sheet of paper on a desk: a tilted rectangle around `box` (x0, y0, x1, y1)."""
    _, h, w = paper.shape
    desk = _rgb(DESK_COLOURS[rng.integers(len(DESK_COLOURS))])
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


def _light(image: np.ndarray, kind: str, rng: Rng) -> np.ndarray:
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
    image *= _rgb(gain)
    return image


def _specks(
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
    coverage, (x0, y0, x1, y1) = _pad(coverage, box, (h, w), math.ceil(2.5 * blur))
    coverage = _soften(coverage, blur)
    _paint(image[:, y0:y1, x0:x1], coverage, colour)
    return image


@lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """65536 evenly spaced quantiles of the standard normal distribution."""
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf((i + 0.5) / 65536) for i in range(65536)], np.float32)


def _gaussian(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    """Standard normal samples by table look-up: several times faster than standard_normal."""
    return np.take(_normal_quantiles(), rng.integers(0, 65536, shape, dtype=np.uint16))


def _noise(image: np.ndarray, kind: str, rng: Rng) -> np.ndarray:
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


# --- putting it together -----------------------------------------------------------------------


def _choose_conditions(rng: Rng, kinds: Sequence[str], force: Mapping[str, str]) -> dict[str, str]:
    """Draw every condition, apply `force`, then make the combination physically consistent."""
    c = {"kind": _pick(rng, {k: KIND_WEIGHTS[k] for k in kinds})}
    c["capture"] = force.get("capture") or _pick(rng, CAPTURES)
    tables = {**COMMON, **BY_CAPTURE[c["capture"]]}
    c.update({key: _pick(rng, tables[key]) for key in CONDITION_KEYS[1:]})
    c.update(force)
    if c["background"] == "transparent":
        c["format"] = "png-rgba"
    elif c["format"] == "png-rgba":
        c["format"] = "png"
    if c["background"] == "chalkboard":
        c["ink"] = "chalk"
    elif c["background"] == "black-canvas":
        c["ink"] = "white"
    return c


def _picture_size(c: Mapping[str, str], rng: Rng, size: tuple[int, int] | None) -> tuple[int, int]:
    """(height, width) of the picture: `size` (width, height) if given, else ~64 to 1600 px."""
    if size is not None:
        return size[1], size[0]
    low = math.log(MIN_LONG_SIDE[c["size"]])
    long_side = int(math.exp(rng.uniform(low, math.log(MAX_LONG_SIDE))))
    aspect = rng.choice([1.0, 1.0, 4 / 3, 3 / 2, 16 / 9, rng.uniform(1, 1.8)])
    short_side = max(48, int(long_side / aspect))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def _place(
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


def _ink(
    c: Mapping[str, str], coverage: np.ndarray, paper: np.ndarray, stroke: float, rng: Rng
) -> tuple[np.ndarray, np.ndarray]:
    """The ink's colour and how much of it each pixel holds (pencil and chalk are grainy)."""
    colour = _rgb(INK_COLOURS[c["ink"]]) * np.float32(rng.uniform(0.9, 1.1))
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


def _render(
    c: Mapping[str, str], label: int, rng: Rng, size: tuple[int, int] | None
) -> tuple[np.ndarray, dict[str, str]]:
    """The picture as float32 planes, RGB (RGBA for transparent drawings), plus measured details."""
    shape = _picture_size(c, rng, size)
    digit_height = max(MIN_DIGIT_PX, int(rng.uniform(*SIZE_FRACTION[c["size"]]) * shape[0]))
    draw = _draw_strokes if c["kind"] == "strokes" else _draw_font
    mask, style = draw(label, digit_height, rng)
    low, high = ROTATION_DEGREES[c["rotation"]]
    angle = float(rng.uniform(low, high) * rng.choice([-1, 1]))
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    coverage, box = _place(mask, shape, c["size"], rng)
    details = {
        "style": style,
        "angle": f"{angle:.1f}",
        "digit_height": str(box[3] - box[1]),
        "width": str(shape[1]),
        "height": str(shape[0]),
    }
    stroke = max(1.5, 0.08 * digit_height)
    blur = _blur_radius(c["blur"], stroke, rng)
    coverage, box = _pad(coverage, box, shape, math.ceil(2.5 * blur))  # room for the blur to spread
    x0, y0, x1, y1 = box
    if c["background"] == "transparent":
        image = np.zeros((4, *shape), np.float32)
        image[:3] = _rgb(INK_COLOURS[c["ink"]])
        image[3, y0:y1, x0:x1] = coverage
        return image, details
    image = _background(c["background"], shape, digit_height, blur, rng)
    if c["background"] == "paper-on-desk":
        image = _on_desk(image, box, blur, rng)
    region = image[:, y0:y1, x0:x1]  # ink lands only inside the digit's box: paint just there
    colour, coverage = _ink(c, coverage, region, stroke, rng)
    coverage = _soften(coverage, blur)
    if c["ink"] in LIGHT_INKS:
        region += coverage * (colour - region)
    else:
        _paint(region, coverage, colour)
    if c["noise"] == "specks":
        dust = _rgb(INK_COLOURS["chalk" if c["ink"] in LIGHT_INKS else "black"])
        image = _specks(image, box, stroke, dust, blur, rng)
    image = _light(image, c["lighting"], rng)
    return _noise(image, c["noise"], rng), details


def _pad(
    coverage: np.ndarray, box: Box, shape: tuple[int, int], pad: int
) -> tuple[np.ndarray, Box]:
    """Grow a coverage map's box by `pad` px a side (within the picture), filling with zeros."""
    x0, y0, x1, y1 = box
    grown = (max(0, x0 - pad), max(0, y0 - pad), min(shape[1], x1 + pad), min(shape[0], y1 + pad))
    out = np.zeros((grown[3] - grown[1], grown[2] - grown[0]), np.float32)
    out[y0 - grown[1] : y1 - grown[1], x0 - grown[0] : x1 - grown[0]] = coverage
    return out, grown


def _blur_radius(kind: str, stroke: float, rng: Rng) -> float:
    """Defocus radius in px: kept below the stroke width so strokes stay visible."""
    if kind == "none":
        return 0.0
    low, high = (0.08, 0.2) if kind == "slight" else (0.25, 0.5)
    return max(0.5, stroke * rng.uniform(low, high))


# Defocus is applied to each sharp ingredient (the digit, ruled lines, specks, the paper's edge)
# rather than to the finished picture: everything else is smooth, blurring is linear, and this
# is many times faster than blurring megapixels.
def _soften(coverage: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian-blur a 2-D coverage map (0..1) by `radius` px."""
    if radius <= 0:
        return coverage
    blurred = Image.fromarray(_to_uint8(coverage)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, np.float32) / 255


def _soften_1d(profile: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian-blur a 1-D coverage profile by `radius` px."""
    if radius <= 0:
        return profile
    x = np.arange(-math.ceil(3 * radius), math.ceil(3 * radius) + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / radius) ** 2)
    padded = np.pad(profile, len(x) // 2, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid").astype(np.float32)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] to uint8, rounded."""
    scaled = values * np.float32(255)
    scaled += np.float32(0.5)
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)


def _to_pil(planes: np.ndarray) -> Image.Image:
    """Float planes (3 or 4, H, W) in [0, 1] to an RGB or RGBA Pillow image."""
    bands = [Image.fromarray(band) for band in _to_uint8(planes)]
    return Image.merge("RGBA" if len(bands) == 4 else "RGB", bands)


def _encode(
    c: Mapping[str, str], planes: np.ndarray, rng: Rng
) -> tuple[Image.Image, dict[str, object], int | None]:
    """The picture in the pixel mode its format asks for, its save options and EXIF orientation."""
    fmt = c["format"]
    image = _to_pil(planes)
    options: dict[str, object] = {}
    orientation = None
    if fmt == "png-rgba":
        # Apps leave different colours under fully transparent pixels; readers must not care.
        under = rng.choice(["black", "white", "ink"])
        if under != "ink":
            blank = Image.new("RGBA", image.size, (255, 255, 255, 0) if under == "white" else 0)
            drawn = image.getchannel("A").point(lambda a: 255 * (a > 0))
            image = Image.composite(image, blank, drawn)
    elif fmt in ("png-gray", "png-16bit", "png-bilevel"):
        gray = image.convert("L")
        if fmt == "png-16bit":  # a 16-bit scanner: the full 0..65535 range
            image = Image.fromarray(np.asarray(gray, np.uint16) * 257)
        elif fmt == "png-bilevel":  # a scanner's black-and-white mode
            g = np.asarray(gray)
            # A threshold relative to the paper (the median, even when the digit is tiny) keeps
            # faint pencil and ignores specks, unlike one halfway to the darkest pixel.
            threshold = 0.75 * float(np.median(g))
            image = Image.fromarray(g > threshold).convert("1")
        else:
            image = gray
    elif fmt.startswith("jpeg"):
        low, high = (12, 36) if fmt == "jpeg-low" else (70, 96)
        options["quality"] = int(rng.integers(low, high))
        if fmt == "jpeg-low" and rng.random() < 0.3:
            image = image.convert("L")
        if fmt == "jpeg-exif":
            orientation = int(rng.choice(EXIF_ORIENTATIONS))
            image = image.transpose(_STORE[orientation])
    elif fmt == "webp":
        # Effort 0 is libwebp's fastest; the artefacts are the same kind, the file a bit larger.
        options.update(quality=int(rng.integers(50, 91)), method=0)
    elif fmt.startswith("tiff"):
        options["compression"] = str(rng.choice(["tiff_lzw", "tiff_adobe_deflate", "raw"]))
    elif fmt == "gif":
        image = image.quantize(int(rng.choice([32, 64, 256])), dither=Image.Dither.NONE)
    if fmt.startswith("png"):
        options["compress_level"] = 1  # the same pixels, written twice as fast as the default
    if fmt.endswith("cmyk"):
        image = image.convert("CMYK")
    return image, options, orientation


def make_sample(
    label: int,
    rng: Rng,
    *,
    kinds: Sequence[str] = KINDS,
    size: tuple[int, int] | None = None,
    force: Mapping[str, str] | None = None,
) -> Sample:
    """One picture of `label`: `size` (width, height) px or random; `force` fixes conditions.

    e.g. force={"capture": "scan", "ink": "blue"}; impossible combinations are made consistent
    (a transparent background is always an RGBA PNG, a chalkboard always has chalk).
    """
    if not kinds or set(kinds) - set(KINDS):
        raise ValueError(f"kinds must be chosen from {KINDS}, got {tuple(kinds)}")
    c = _choose_conditions(rng, kinds, force or {})
    planes, details = _render(c, label, rng, size)
    image, options, orientation = _encode(c, planes, rng)
    conditions = {**c, **details, "exif_orientation": str(orientation or "")}
    return Sample(label, conditions, image, FORMATS[c["format"]][0], orientation, options)


def generate(
    count: int,
    seed: int,
    *,
    kinds: Sequence[str] = KINDS,
    photo_size: tuple[int, int] | None = None,
    force: Mapping[str, str] | None = None,
) -> Iterator[Sample]:
    """`count` labelled pictures, labels cycling 0-9; picture i depends only on (seed, i).

    `photo_size` (width, height) makes every picture a phone-photo-like JPEG of that size;
    `force` fixes conditions (see make_sample), e.g. a set of photos of paper on a desk.
    """
    force = {**({"capture": "photo", "format": "jpeg"} if photo_size else {}), **(force or {})}
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        yield make_sample(index % 10, rng, kinds=kinds, size=photo_size, force=force)


# --- printed digits for training -----------------------------------------------------------------
# Printed digits are far from MNIST's handwriting, so a modest share of them is mixed into
# training.  To keep the realistic benchmark honest, every other one of the machine's fonts
# (sorted) is held out and only the rest is used, plus matplotlib's own text fonts, which the
# benchmark never draws with; bench/realistic.py reports the two halves separately.
EXTRA_FONTS = ("cmr10", "cmb10", "cmss10", "cmtt10", "cmti10", "STIXGeneral", "STIXGeneralBol",
               "STIXGeneralItalic", "STIXGeneralBolIta")  # fmt: skip


def held_out_fonts() -> tuple[str, ...]:
    """Stems of the machine's fonts that printed training digits never use."""
    return tuple(Path(p).stem for p in font_paths()[1::2])


def training_fonts() -> tuple[str, ...]:
    """Font files for printed training digits: half the machine's fonts plus matplotlib's."""
    extra = []
    try:
        import matplotlib

        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        extra = [str(folder / f"{name}.ttf") for name in EXTRA_FONTS]
        extra = [p for p in extra if Path(p).is_file()]
    except ImportError:
        pass
    return (*font_paths()[0::2], *extra)


def printed_digit(label: int, rng: Rng, fonts: Sequence[str]) -> np.ndarray:
    """A printed digit as a user's clean picture of it, prepared like `predict` does: 28×28 uint8.

    Blur, noise, JPEG and the like are left to training's augmentation; this is the font, its
    weight and slant, the size it was printed at, and a slight tilt.
    """
    from digitcli.vision.preprocess import to_mnist  # the same preparation as a user's picture gets

    height = int(rng.uniform(24, 160))
    mask, _ = _draw_font(label, height, rng, fonts)
    mask = mask.rotate(float(rng.uniform(-4, 4)), Image.Resampling.BILINEAR, expand=True)
    margin = height // 2
    coverage = np.pad(np.asarray(mask, np.float32) / 255, margin)
    return to_mnist(1 - np.float32(rng.uniform(0.6, 0.95)) * coverage)


def printed_dataset(count: int, seed: int) -> dict[str, np.ndarray]:
    """Keras-style arrays: `count` training digits in the training fonts, a tenth as many in the
    held-out fonts as the test split; labels cycle 0-9 and digit i depends only on (seed, i)."""
    held_out = set(held_out_fonts())
    splits = {"train": (training_fonts(), count, 0),
              "test": ([p for p in font_paths() if Path(p).stem in held_out], count // 10, 1)}
    arrays = {}
    for split, (fonts, n, part) in splits.items():
        x = np.stack([
            printed_digit(i % 10, np.random.default_rng([seed, part, i]), fonts) for i in range(n)
        ])
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, (np.arange(n) % 10).astype(np.uint8)
    return arrays


def file_name(index: int, sample: Sample) -> str:
    """`<index>_<condition tags>.<ext>`, e.g. 00012_strokes-lined-paper-blue-small-jpeg.jpg."""
    tags = "-".join(sample.conditions[key] for key in FILENAME_KEYS)
    return f"{index:05d}_{tags}.{sample.extension}"


def write_dataset(out_dir: Path, count: int, seed: int, **kw) -> Path:
    """Write pictures to out_dir/<label>/ and a labels.csv describing them; returns the CSV's path.

    Keyword arguments go to generate().  The 0/ … 9/ layout is what `digitcli evaluate --data`
    reads; labels.csv adds each picture's conditions, with paths relative to out_dir.
    """
    out_dir = Path(out_dir)
    for digit in range(10):
        (out_dir / str(digit)).mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "labels.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", *CSV_KEYS])
        writer.writeheader()
        for index, sample in enumerate(generate(count, seed, **kw)):
            relative = f"{sample.label}/{file_name(index, sample)}"
            (out_dir / relative).write_bytes(sample.encode())
            details = {k: sample.conditions[k] for k in CSV_KEYS}
            writer.writerow({"path": relative, "label": sample.label, **details})
    return csv_path


# The demo pictures in sample_images/: file stem (label first), label, (width, height), conditions.
SAMPLES_SEED = 2024
_PHOTO = {"capture": "photo", "kind": "strokes", "format": "jpeg"}
_SCAN = {"capture": "scan", "kind": "strokes", "noise": "none", "blur": "none", "size": "large"}
_DRAWING = {"capture": "digital", "kind": "strokes", "size": "large"}
# fmt: off
SAMPLES: tuple[tuple[str, int, tuple[int, int], dict[str, str]], ...] = (
    ("7_blue-ink-lined-paper", 7, (640, 480), {**_PHOTO, "background": "lined-paper",
     "ink": "blue", "size": "large", "lighting": "gradient", "blur": "none"}),
    ("3_phone-photo-paper-on-desk", 3, (800, 600), {**_PHOTO, "background": "paper-on-desk",
     "ink": "black", "size": "medium", "lighting": "shadow", "noise": "gaussian",
     "blur": "slight"}),
    ("5_small-off-centre", 5, (800, 600), {**_PHOTO, "background": "white-paper",
     "ink": "black", "size": "small", "lighting": "vignette", "blur": "none"}),
    ("2_chalk-on-board", 2, (640, 480), {**_PHOTO, "background": "chalkboard", "size": "large",
     "blur": "none", "noise": "gaussian"}),
    ("4_transparent-drawing", 4, (280, 280), {**_DRAWING, "background": "transparent",
     "ink": "black"}),
    ("9_exif-rotated-photo", 9, (800, 600), {**_PHOTO, "background": "white-paper",
     "ink": "blue", "size": "medium", "lighting": "gradient", "blur": "none",
     "format": "jpeg-exif"}),
    ("0_printed-font-scan", 0, (300, 300), {**_SCAN, "kind": "font",
     "background": "white-paper", "ink": "black", "format": "png-gray"}),
    ("1_pencil-grid-paper", 1, (360, 360), {**_SCAN, "background": "grid-paper",
     "ink": "pencil", "format": "png"}),
    ("6_red-ink-coloured-paper", 6, (600, 600), {**_PHOTO, "background": "coloured-paper",
     "ink": "red", "size": "large", "blur": "slight", "format": "webp"}),
    ("8_scan-16bit-gray", 8, (240, 240), {**_SCAN, "background": "white-paper",
     "ink": "black", "format": "png-16bit"}),
    ("2_white-on-black-drawing", 2, (280, 280), {**_DRAWING, "background": "black-canvas",
     "format": "png"}),
    ("5_printed-low-quality-jpeg", 5, (480, 360), {**_PHOTO, "kind": "font",
     "background": "whiteboard", "ink": "black", "size": "medium", "blur": "none",
     "format": "jpeg-low"}),
)
# fmt: on


def write_samples(out_dir: Path) -> list[Path]:
    """Write the fixed, varied set of demo pictures (the repository's sample_images/)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (stem, label, size, force) in enumerate(SAMPLES):
        rng = np.random.default_rng([SAMPLES_SEED, index])
        sample = make_sample(label, rng, size=size, force=force)
        path = out_dir / f"{stem}.{sample.extension}"
        path.write_bytes(sample.encode())
        paths.append(path)
    return paths


def _size(text: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT, e.g. 1200x900."""
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write a synthetic dataset (or the demo samples) to a folder."""
    parser = argparse.ArgumentParser(
        prog="python -m digitcli.synth.realistic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=1000, help="how many (labels cycle 0-9)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same files")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--photo-size",
        type=_size,
        metavar="WxH",
        help="only phone-photo-like JPEGs of this size, e.g. 1200x900",
    )
    parser.add_argument(
        "--printed",
        action="store_true",
        help="write printed training digits (28×28, as `predict` prepares them) to OUT_DIR.npz, "
        "a Keras-style file for `digitcli train --data`: --count in the training fonts, a tenth "
        "as many in the held-out fonts as its test split",
    )
    parser.add_argument(
        "--samples",
        action="store_true",
        help="write the fixed demo pictures (sample_images/) instead",
    )
    args = parser.parse_args(argv)
    if args.samples:
        for path in write_samples(args.out_dir):
            print(path)
        return
    if args.printed:
        out = args.out_dir.with_name(args.out_dir.stem + ".npz")  # NumPy would add it anyway
        np.savez_compressed(out, **printed_dataset(args.count, args.seed))
        print(out)
        return
    kinds = tuple(args.kinds)
    print(
        write_dataset(args.out_dir, args.count, args.seed, kinds=kinds, photo_size=args.photo_size)
    )


if __name__ == "__main__":
    main()
