"""Seeded generator of labelled, realistic pictures of whole numbers (2-8 digits).

Each picture shows one number, handwritten (digitcli.synth.realistic's pen-stroke digits, each drawn with its
own jitter, slant and pen pressure, placed with varied spacing on a wandering baseline) or printed
(one of the benchmark's pinned fonts, glyph by glyph with varied letter spacing), then put through the same
photo, scan or drawing-app conditions as single digits: paper, board or desk, ink, lighting, noise,
blur, compression, EXIF rotation and every file format.  Picture i depends only on (seed, i).

    python -m digitcli.synth.whole_numbers OUT_DIR --count 1000 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitcli.synth import encode, fonts, randomness, realistic, scene, strokes
from digitcli.synth.randomness import Rng
from digitcli.vision.ops import dilate, erode  # fast grey dilation and erosion

LENGTHS = tuple(range(2, 9))
# Gap between neighbouring digits' ink, in digit heights: tight handwriting may touch.
SPACING = {"wide": 0.25, "normal": 0.55, "tight": 0.2}
GAPS = {"wide": (0.3, 0.7), "normal": (0.1, 0.3), "tight": (-0.06, 0.1)}
FONT_GAPS = {"wide": (0.15, 0.35), "normal": (0.03, 0.15), "tight": (-0.04, 0.03)}  # added to the advance
ROTATIONS = {"none": 0.5, "small": 0.5}
ROTATION_DEGREES = {"none": (0.0, 1.5), "small": (1.5, 5.0)}  # the whole number's tilt
NUMBER_FRACTION = {"large": (0.6, 0.92), "medium": (0.35, 0.6), "small": (0.15, 0.35)}  # of the width
CSV_KEYS = ("kind", "style", "length", "spacing", *realistic.CONDITION_KEYS, "angle", "digit_height",
            "width", "height", "exif_orientation")  # fmt: skip
CONDITIONS = ("length", "kind", "spacing", *realistic.CONDITION_KEYS)


@dataclass(frozen=True)
class NumberSample:
    """One labelled picture of a number: the number as a string and the picture (a realistic.Sample)."""

    number: str
    picture: realistic.Sample

    @property
    def conditions(self) -> dict[str, str]:
        return self.picture.conditions


def make_number(rng: Rng, *, force: Mapping[str, str] | None = None) -> NumberSample:
    """One picture of a random 2-8 digit number; `force` fixes conditions (e.g. {"length": "5"})."""
    force = dict(force or {})
    length = int(force.pop("length", 0)) or int(rng.choice(LENGTHS))
    number = str(rng.integers(1, 10)) + "".join(str(d) for d in rng.integers(0, 10, length - 1))
    spacing = force.pop("spacing", None) or randomness.pick(rng, SPACING)
    rotation = force.pop("rotation", None) or randomness.pick(rng, ROTATIONS)
    c = realistic._choose_conditions(rng, realistic.KINDS, force)
    c["rotation"] = rotation
    width = int(math.exp(rng.uniform(math.log(320), math.log(scene.MAX_LONG_SIDE))))
    target = rng.uniform(*NUMBER_FRACTION[c["size"]]) * width  # the number's width in px
    digit_height = max(scene.MIN_DIGIT_PX, int(target / (length * 0.8)))
    draw = _handwritten if c["kind"] == "strokes" else _printed
    mask, style = draw(number, digit_height, spacing, rng)
    angle = float(rng.uniform(*ROTATION_DEGREES[rotation]) * rng.choice([-1, 1]))
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    if mask.width > 0.96 * scene.MAX_LONG_SIDE:  # a long number of big digits: make it fit
        scale = 0.96 * scene.MAX_LONG_SIDE / mask.width
        mask = mask.resize((int(mask.width * scale), max(1, int(mask.height * scale))), Image.Resampling.BOX)
        digit_height = max(1, int(digit_height * scale))
    width = min(scene.MAX_LONG_SIDE, max(width, int(mask.width / 0.96) + 1))
    height = max(int(width / rng.uniform(1.0, 2.2)), int(mask.height / rng.uniform(0.3, 0.8)) + 1, 48)
    planes = _compose(c, mask, (height, width), digit_height, rng)
    image, options, orientation = encode.encode(c, planes, rng)
    details = {
        "style": style, "length": str(length), "spacing": spacing, "angle": f"{angle:.1f}",
        "digit_height": str(digit_height), "width": str(width), "height": str(height),
        "exif_orientation": str(orientation or ""),
    }  # fmt: skip
    sample = realistic.Sample(-1, {**c, **details}, image, encode.FORMATS[c["format"]][0], orientation, options)
    return NumberSample(number, sample)


def _handwritten(number: str, height: int, spacing: str, rng: Rng) -> tuple[Image.Image, str]:
    """The number as an L coverage mask: synth's pen-stroke digits side by side on a wandering baseline."""
    # One pen for the whole number (synth draws each digit with a pen of its own): fine ballpoints
    # are the most common, as in synth.
    pen = max(math.exp(rng.uniform(math.log(0.035), math.log(0.15))) * height, 1.5)
    masks = []
    for ch in number:
        digit_height = max(scene.MIN_DIGIT_PX, int(height * rng.uniform(0.88, 1.1)))
        # Change the stroke width at 4× the size, then shrink: thinned strokes stay solid ink.
        mask, _ = strokes.draw_strokes(int(ch), 4 * digit_height, rng)
        mask = _with_pen(mask, 4 * pen)
        size = (max(1, round(mask.width * digit_height / mask.height)), digit_height)
        mask = mask.resize(size, Image.Resampling.BOX)
        masks.append(mask.rotate(rng.uniform(-4, 4), Image.Resampling.BILINEAR, expand=True))
    # The baseline drifts slowly (a wave over the number) and jitters a little per digit.
    wave, phase = rng.uniform(0, 0.12), rng.uniform(0, 2 * math.pi)
    drops = [height * (wave * math.sin(phase + i) + rng.normal(0, 0.04)) for i in range(len(number))]
    gaps = [height * rng.uniform(*GAPS[spacing]) for _ in number[1:]]
    return _side_by_side(masks, drops, gaps), "handwriting"


def _with_pen(mask: Image.Image, pen: float) -> Image.Image:
    """Thicken or thin a digit's strokes (grey dilation or erosion) to about `pen` px wide."""
    values = np.asarray(mask, np.float32)
    core = values >= 128
    edges = np.count_nonzero(np.diff(core, axis=0)) + np.count_nonzero(np.diff(core, axis=1))
    width = 2 * np.count_nonzero(core) / max(edges, 1)  # a stroke of width w, length L: area wL, edge 2L
    size = 2 * round(abs(pen - width) / 2) + 1
    if size == 1:
        return mask
    values = np.pad(values, size)
    values = dilate(values, size) if pen > width else erode(values, size)
    image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    return image.crop(image.getbbox()) if image.getbbox() else mask


def _printed(number: str, height: int, spacing: str, rng: Rng) -> tuple[Image.Image, str]:
    """The number printed in one font (weight, italics and letter spacing drawn at random)."""
    path = fonts.random_font(rng)
    size = min(4 * height, 400)
    font = ImageFont.truetype(path, size)
    bold = int(rng.uniform(0, 0.04) * size) if rng.random() < 0.4 else 0
    shear = rng.uniform(-0.25, 0.25) if rng.random() < 0.4 else 0.0
    gap = rng.uniform(*FONT_GAPS[spacing])
    glyphs, advances = [], []
    for ch in number:
        canvas = Image.new("L", (2 * size, 2 * size))
        ImageDraw.Draw(canvas).text((size // 2, size // 2), ch, fill=255, font=font, stroke_width=bold, stroke_fill=255)
        glyphs.append(canvas)
        advances.append(font.getlength(ch) + 2 * bold + gap * size)
    # Glyphs share the font's baseline: paste whole canvases at the advancing pen position.
    canvas = np.zeros((2 * size, int(sum(advances[:-1])) + 2 * size), np.uint8)
    pen = 0.0
    for glyph, advance in zip(glyphs, advances):
        region = canvas[:, int(pen) : int(pen) + 2 * size]
        np.maximum(region, np.asarray(glyph), out=region)  # overlapping glyphs: ink on ink
        pen += advance
    line = Image.fromarray(canvas)
    line = line.crop(line.getbbox())
    if shear:
        extra = abs(shear) * line.height
        matrix = (1, shear, -extra if shear > 0 else 0, 0, 1, 0)
        line = line.transform((int(line.width + extra) + 2, line.height), Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC)
        line = line.crop(line.getbbox())
    name = Path(path).stem if path else "pillow-default"
    return strokes.fit_height(line, int(height * line.height / _digit_height(font))), name


def _digit_height(font: ImageFont.FreeTypeFont) -> float:
    """Height of the font's digits (its "8"), to scale the line so that digits are `height` px tall."""
    box = font.getbbox("8")
    return max(1.0, box[3] - box[1])


def _side_by_side(masks: Sequence[Image.Image], drops: Sequence[float], gaps: Sequence[float]) -> Image.Image:
    """Paste digit masks left to right, each `gap` px after the last one's ink and `drop` px lower."""
    xs = [0.0]
    for mask, gap in zip(masks, gaps):
        xs.append(xs[-1] + mask.width + gap)
    bottoms = [m.height + d for m, d in zip(masks, drops)]
    base = max(bottoms)
    lowest = min(base - b for b in bottoms)
    x_min = min(xs)
    width = int(max(x + m.width for x, m in zip(xs, masks)) - x_min) + 2
    height = int(max(base - b + m.height for b, m in zip(bottoms, masks)) - lowest) + 2
    canvas = np.zeros((height, width), np.uint8)
    for x, mask, bottom in zip(xs, masks, bottoms):
        top, left = int(base - bottom - lowest), int(x - x_min)
        region = canvas[top : top + mask.height, left : left + mask.width]
        np.maximum(region, np.asarray(mask)[: region.shape[0], : region.shape[1]], out=region)
    image = Image.fromarray(canvas)
    return image.crop(image.getbbox())


def _compose(
    c: Mapping[str, str], mask: Image.Image, shape: tuple[int, int], digit_height: int, rng: Rng
) -> np.ndarray:
    """Put the number's mask on paper, board or canvas and light it, as synth does for one digit."""
    coverage, box = scene.place_digit(mask, shape, c["size"], rng)
    stroke = max(1.5, 0.08 * digit_height)
    blur = scene.blur_radius(c["blur"], stroke, rng)
    coverage, box = scene.pad_box(coverage, box, shape, math.ceil(2.5 * blur))
    x0, y0, x1, y1 = box
    if c["background"] == "transparent":
        image = np.zeros((4, *shape), np.float32)
        image[:3] = scene.rgb(scene.INK_COLOURS[c["ink"]])
        image[3, y0:y1, x0:x1] = coverage
        return image
    image = scene.background(c["background"], shape, digit_height, blur, rng)
    if c["background"] == "paper-on-desk":
        image = scene.on_desk(image, box, blur, rng)
    region = image[:, y0:y1, x0:x1]
    colour, coverage = scene.ink_coverage(c, coverage, region, stroke, rng)
    coverage = scene.soften(coverage, blur)
    if c["ink"] in scene.LIGHT_INKS:
        region += coverage * (colour - region)
    else:
        scene.paint_over(region, coverage, colour)
    if c["noise"] == "specks":
        dust = scene.rgb(scene.INK_COLOURS["chalk" if c["ink"] in scene.LIGHT_INKS else "black"])
        image = scene.add_specks(image, box, stroke, dust, blur, rng)
    image = scene.relight(image, c["lighting"], rng)
    return scene.add_noise(image, c["noise"], rng)


def generate(count: int, seed: int, *, force: Mapping[str, str] | None = None) -> Iterator[NumberSample]:
    """`count` labelled pictures of numbers; picture i depends only on (seed, i)."""
    for index in range(count):
        yield make_number(np.random.default_rng([seed, index]), force=force)


def write_dataset(out_dir: Path, count: int, seed: int, **kw) -> Path:
    """Write the pictures and labels.csv (path, number, conditions…) to out_dir; returns the CSV's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "labels.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "number", *CSV_KEYS])
        writer.writeheader()
        for index, sample in enumerate(generate(count, seed, **kw)):
            c = sample.conditions
            name = f"{index:05d}_{sample.number}-{c['kind']}-{c['background']}-{c['ink']}.{sample.picture.extension}"
            (out_dir / name).write_bytes(sample.picture.encode())
            writer.writerow({"path": name, "number": sample.number, **{k: c[k] for k in CSV_KEYS}})
    return csv_path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write a labelled set of number pictures to a folder."""
    parser = argparse.ArgumentParser(prog="python -m digitcli.synth.whole_numbers", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=1000, help="how many pictures")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same files")
    args = parser.parse_args(argv)
    fonts.require("bench")
    print(write_dataset(args.out_dir, args.count, args.seed))


if __name__ == "__main__":
    main()
