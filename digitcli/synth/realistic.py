"""Seeded generator of labelled, realistic digit pictures: phone photos and scans, not MNIST.

Each picture shows one digit 0-9, either handwritten (per-digit pen-stroke templates with several
allographs, jittered, slanted, with pen pressure) or printed (the benchmark's pinned fonts, never trained on), then
put through what happens to real pictures: a phone photo, a scan or a drawing app; paper, board or
desk; ink; size and position; rotation; lighting; noise; blur; compression; EXIF rotation; and
every common file format and pixel mode.  Every picture records the conditions it got, so
accuracy can be measured per condition.

No MNIST data is used here.  Everything is drawn from a NumPy Generator seeded per picture, so a
seed gives the same files byte for byte on any machine with the pinned fonts (digitcli.synth.fonts),
and the first N pictures of a seed do not depend on how many are asked for.

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
from pathlib import Path

import numpy as np
from PIL import Image

from digitcli.synth.randomness import Rng, pick
from digitcli.synth.strokes import draw_strokes
from digitcli.synth import fonts
from digitcli.synth.fonts import draw_font, printed_dataset
from digitcli.synth.scene import (INK_COLOURS, LIGHT_INKS, MIN_DIGIT_PX, ROTATION_DEGREES,
                                  SIZE_FRACTION, add_noise, add_specks, background, blur_radius,
                                  ink_coverage, on_desk, pad_box, paint_over, picture_size,
                                  place_digit, relight, rgb, soften)
from digitcli.synth.encode import FORMATS, VIEW, encode


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


# fmt: on
CONDITION_KEYS = ("capture", "background", *COMMON, "lighting", "noise", "blur", "format")


# Columns of labels.csv after path and label; "style" is the allograph or the font.
CSV_KEYS = (
    "kind", "style", *CONDITION_KEYS, "angle", "digit_height", "width", "height", "exif_orientation"
)  # fmt: skip


FILENAME_KEYS = ("kind", "background", "ink", "size", "format")


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
        return self.image.transpose(VIEW[self.exif_orientation])


def _choose_conditions(rng: Rng, kinds: Sequence[str], force: Mapping[str, str]) -> dict[str, str]:
    """Draw every condition, apply `force`, then make the combination physically consistent."""
    c = {"kind": pick(rng, {k: KIND_WEIGHTS[k] for k in kinds})}
    c["capture"] = force.get("capture") or pick(rng, CAPTURES)
    tables = {**COMMON, **BY_CAPTURE[c["capture"]]}
    c.update({key: pick(rng, tables[key]) for key in CONDITION_KEYS[1:]})
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


def _render(
    c: Mapping[str, str], label: int, rng: Rng, size: tuple[int, int] | None
) -> tuple[np.ndarray, dict[str, str]]:
    """The picture as float32 planes, RGB (RGBA for transparent drawings), plus measured details."""
    shape = picture_size(c, rng, size)
    digit_height = max(MIN_DIGIT_PX, int(rng.uniform(*SIZE_FRACTION[c["size"]]) * shape[0]))
    draw = draw_strokes if c["kind"] == "strokes" else draw_font
    mask, style = draw(label, digit_height, rng)
    low, high = ROTATION_DEGREES[c["rotation"]]
    angle = float(rng.uniform(low, high) * rng.choice([-1, 1]))
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    coverage, box = place_digit(mask, shape, c["size"], rng)
    details = {
        "style": style,
        "angle": f"{angle:.1f}",
        "digit_height": str(box[3] - box[1]),
        "width": str(shape[1]),
        "height": str(shape[0]),
    }
    stroke = max(1.5, 0.08 * digit_height)
    blur = blur_radius(c["blur"], stroke, rng)
    coverage, box = pad_box(coverage, box, shape, math.ceil(2.5 * blur))  # room for the blur to spread
    x0, y0, x1, y1 = box
    if c["background"] == "transparent":
        image = np.zeros((4, *shape), np.float32)
        image[:3] = rgb(INK_COLOURS[c["ink"]])
        image[3, y0:y1, x0:x1] = coverage
        return image, details
    image = background(c["background"], shape, digit_height, blur, rng)
    if c["background"] == "paper-on-desk":
        image = on_desk(image, box, blur, rng)
    region = image[:, y0:y1, x0:x1]  # ink lands only inside the digit's box: paint just there
    colour, coverage = ink_coverage(c, coverage, region, stroke, rng)
    coverage = soften(coverage, blur)
    if c["ink"] in LIGHT_INKS:
        region += coverage * (colour - region)
    else:
        paint_over(region, coverage, colour)
    if c["noise"] == "specks":
        dust = rgb(INK_COLOURS["chalk" if c["ink"] in LIGHT_INKS else "black"])
        image = add_specks(image, box, stroke, dust, blur, rng)
    image = relight(image, c["lighting"], rng)
    return add_noise(image, c["noise"], rng), details


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
    image, options, orientation = encode(c, planes, rng)
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
    fonts.require("bench", *(["training"] if args.printed else []))
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
