"""Printed digits from a pinned set of fonts: Debian packages named in fonts.tsv, checked by hash.

Training and the benchmarks draw from disjoint sets, so the benchmark's printed digits are in
fonts the model never saw, and the same seed gives the same pictures on any machine that has
them (`make fonts` installs them) and the same Pillow (which brings its own FreeType).  Nothing
here looks at the other fonts a machine has.

    python -m digitcli.synth.fonts --pin   # rewrite fonts.tsv from the installed packages
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitcli.errors import DataError
from digitcli.synth.randomness import Rng
from digitcli.synth.strokes import fit_height

MANIFEST = Path(__file__).with_name("fonts.tsv")  # role, package, version, path, sha256
# Printed training digits (`synth --printed`): text faces, monospace, and a few informal hands.
TRAINING_PACKAGES = (
    "fonts-dejavu-core", "fonts-dejavu-extra", "fonts-liberation2", "fonts-freefont-ttf",
    "fonts-urw-base35", "fonts-open-sans", "fonts-roboto-unhinted", "fonts-jetbrains-mono",
    "fonts-comfortaa", "fonts-kristi", "fonts-rufscript", "fonts-sjfonts", "fonts-ecolier-court",
    "fonts-tomsontalks",
)  # fmt: skip
# The benchmarks' printed digits (realistic pictures, whole numbers, the printed test split):
# never trained on.  Faces with lining figures, as on forms, labels and screens.
BENCH_PACKAGES = (
    "fonts-texgyre", "fonts-lato", "fonts-crosextra-carlito", "fonts-crosextra-caladea",
    "fonts-cantarell", "fonts-linuxlibertine", "fonts-noto-mono", "fonts-hack", "fonts-dosis",
    "fonts-jura", "fonts-kaushanscript",
)  # fmt: skip
# Kept for judging by people outside the project: never in a generator, training or tuning set.
RESERVED_PACKAGES = (
    "fonts-dkg-handwriting", "fonts-breip", "fonts-bwht", "fonts-femkeklaver",
    "fonts-humor-sans", "fonts-dancingscript", "fonts-comic-neue",
)  # fmt: skip
NOT_DIGITS = ("D050000L", "LinBiolinum_K")  # dingbats; keyboard keys drawn around the digits


class FontsMissing(DataError):
    """The pinned fonts are not installed, or differ from the ones pinned."""


@lru_cache(maxsize=None)
def pinned(role: str) -> tuple[tuple[str, ...], ...]:
    """The font files of `role` ("training" or "bench"), one tuple per package, checked by hash."""
    rows = [line.split("\t") for line in MANIFEST.read_text().splitlines()[1:]]
    wrong = [(package, version, path) for r, package, version, path, digest in rows
             if r == role and _sha256(path) != digest]
    if wrong:
        package, version, path = wrong[0]
        raise FontsMissing(
            f"{len(wrong)} pinned font file(s) are missing or differ, e.g. {path} of {package} "
            f"{version}; install the pinned fonts with `make fonts` (Debian packages listed in {MANIFEST})"
        )
    packages: dict[str, list[str]] = {}
    for r, package, _, path, _ in rows:
        if r == role:
            packages.setdefault(package, []).append(path)
    return tuple(tuple(paths) for paths in packages.values())


def require(*roles: str) -> None:
    """For command lines: stop with the one-line message and exit code 4 if fonts are missing."""
    try:
        for role in roles:
            pinned(role)
    except FontsMissing as error:
        raise _stopped(error) from None


def _stopped(error: FontsMissing) -> SystemExit:
    """The one line on stderr; the SystemExit with the error's exit code, to raise."""
    print(f"error: {error}", file=sys.stderr)
    return SystemExit(error.exit_code)


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def random_font(rng: Rng, fonts: Sequence[Sequence[str]] | None = None) -> str:
    """A font file from `fonts`, one list of files per package (default: the benchmark's): the
    package is drawn first, so a family of 30 files weighs no more than a single hand."""
    families = pinned("bench") if fonts is None else fonts
    family = families[rng.integers(len(families))]
    return family[rng.integers(len(family))]


def draw_font(
    label: int, height: int, rng: Rng, fonts: Sequence[Sequence[str]] | None = None
) -> tuple[Image.Image, str]:
    """A printed digit in a random font (see random_font), weight and slant: an L mask with ink
    `height` px tall."""
    path = random_font(rng, fonts)
    size = min(4 * height, 600)
    font, style = ImageFont.truetype(path, size), Path(path).stem
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


def printed_digit(label: int, rng: Rng, fonts: Sequence[Sequence[str]]) -> np.ndarray:
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


# Printed digits are far from MNIST's handwriting, so a modest share of them is mixed into
# training; its test split is in the benchmark's fonts, never trained on.
def printed_dataset(count: int, seed: int) -> dict[str, np.ndarray]:
    """Keras-style arrays: `count` training digits in the training fonts, a tenth as many in the
    benchmark's fonts as the test split; labels cycle 0-9 and digit i depends only on (seed, i)."""
    splits = {"train": (pinned("training"), count, 0), "test": (pinned("bench"), count // 10, 1)}
    arrays = {}
    for split, (fonts, n, part) in splits.items():
        x = np.stack([
            printed_digit(i % 10, np.random.default_rng([seed, part, i]), fonts) for i in range(n)
        ])
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, (np.arange(n) % 10).astype(np.uint8)
    return arrays


def pin() -> str:
    """fonts.tsv's text for the packages installed now (their versions, files and hashes)."""
    lines = ["role\tpackage\tversion\tpath\tsha256"]
    for role, packages in (("training", TRAINING_PACKAGES), ("bench", BENCH_PACKAGES)):
        for package in packages:
            version = _dpkg("-W", "-f=${Version}", package).strip()
            paths = sorted(p for p in _dpkg("-L", package).split("\n")
                           if p.endswith((".ttf", ".otf")) and Path(p).stem not in NOT_DIGITS)
            lines += [f"{role}\t{package}\t{version}\t{p}\t{_sha256(p)}" for p in paths]
    return "\n".join(lines) + "\n"


def _dpkg(*args: str) -> str:
    try:
        return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise FontsMissing(f"dpkg-query {args[-1]} failed (is the package installed? `make fonts`): "
                           f"{getattr(error, 'stderr', '') or error}".strip()) from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m digitcli.synth.fonts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help=f"rewrite {MANIFEST.name} from the installed packages")
    if parser.parse_args().pin:
        try:
            text = pin()  # all of it before writing: a failure leaves the old list whole
        except FontsMissing as error:
            raise _stopped(error) from None
        MANIFEST.write_text(text)
    require("training", "bench")
    for role in ("training", "bench"):
        print(role, sum(map(len, pinned(role))), "files in", len(pinned(role)), "packages")
