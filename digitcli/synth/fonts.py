"""Printed digits from the machine's fonts, and the printed training digits (some fonts held out for the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitcli.synth.randomness import Rng
from digitcli.synth.strokes import fit_height


@lru_cache(maxsize=1)
def font_paths() -> tuple[str, ...]:
    """The machine's TrueType/OpenType fonts, sorted so choices are reproducible."""
    fonts = Path("/usr/share/fonts")
    return tuple(sorted({str(p) for pattern in ("*.ttf", "*.otf") for p in fonts.rglob(pattern)}))


def draw_font(
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
    return fit_height(canvas, height), style


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
    mask, _ = draw_font(label, height, rng, fonts)
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
