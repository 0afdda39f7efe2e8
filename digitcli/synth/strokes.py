"""Handwritten digits from pen-stroke templates: several allographs per digit, jittered, slanted, with pen pressure."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from digitcli.synth.randomness import Rng


Stroke = list[tuple[float, float]]


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


def draw_strokes(label: int, height: int, rng: Rng) -> tuple[Image.Image, str]:
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
    return fit_height(Image.fromarray(mask), height), f"{label}-{style}"


def fit_height(mask: Image.Image, height: int) -> Image.Image:
    """Crop a coverage mask to its ink and scale it so the ink is `height` px tall."""
    mask = mask.crop(mask.getbbox())
    width = max(1, round(mask.width * height / mask.height))
    resample = Image.Resampling.BOX if mask.height > height else Image.Resampling.BICUBIC
    return mask.resize((width, height), resample)
