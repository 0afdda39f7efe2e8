"""Handwriting styles that MNIST lacks, made from MNIST's own digits: the European 1.

MNIST's writers were American: their 1 is a plain bar. Much of the world writes a 1 with a long
upstroke (a "flag") from the top, which a network trained on MNIST reads as a 7. Adding a flag
to MNIST's own 1s keeps the real handwriting (stroke width, slant, wobble) and adds the style.

    python -m digitcli.training.variants build/variants.npz    # reads MNIST from DIGITCLI_DATA or --data

writes a Keras-style .npz that `digitcli train --data` reads: flagged 1s from MNIST's training
split (a third of them) as its training split and from MNIST's test split as its test split.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

UPSCALE = 4  # the flag is drawn on a 112×112 copy, then the digit is framed again like MNIST
FLAG_LENGTH = (0.25, 0.45)  # of the stem's length
# Degrees below the horizontal, to the left. A flatter or longer flag on a slanted stem is a 7:
# with flags of up to 70° from the stem, some of these "1"s were 7s to the eye.
FLAG_ANGLE = (30.0, 60.0)
# Flag only a third of MNIST's 1s: with all of them, 1s would be 19% of the training digits
# instead of 11% (14% with a third), tilting uncertain 1-or-7 reads towards 1.
TRAINING_SHARE = 1 / 3


def flagged_one(one: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28×28 uint8 MNIST 1 (white on black) with a flag drawn from its top end, framed again."""
    from digitcli.vision.preprocess import to_mnist

    big = np.asarray(Image.fromarray(one).resize((28 * UPSCALE,) * 2, Image.Resampling.BILINEAR))
    ys, xs = np.nonzero(big > 127)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = points.mean(axis=0)
    # The stem's direction is the ink's principal axis, pointed downwards (y grows down).
    _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
    down = axes[0] if axes[0][1] > 0 else -axes[0]
    along = (points - centre) @ down  # the top end is where the stem starts
    length = float(along.max() - along.min())
    top = centre + along.min() * down
    width = max(UPSCALE, len(points) / max(length, 1.0))  # ink area over stem length
    angle = np.radians(rng.uniform(*FLAG_ANGLE))
    end = top + np.array([-np.cos(angle), np.sin(angle)]) * length * rng.uniform(*FLAG_LENGTH)
    flag = Image.new("L", big.shape[::-1], 0)
    draw = ImageDraw.Draw(flag)
    ink = int(np.percentile(big[big > 127], 90))
    draw.line([tuple(top), tuple(end)], fill=ink, width=round(width))
    for x, y in (top, end):  # round pen ends
        draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=ink)
    picture = np.maximum(big, np.asarray(flag)).astype(np.float32) / 255
    return to_mnist(picture)


def flagged_ones(x: np.ndarray, y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A seeded `share` of the 1s in (x, y), each with a flag: (N, 28, 28) uint8."""
    ones = x[y == 1].reshape(-1, 28, 28)
    chosen = np.sort(rng.permutation(len(ones))[: round(share * len(ones))])
    return np.stack([flagged_one(ones[i], rng) for i in chosen])


def variants_dataset(source: str | None, seed: int, share: float = TRAINING_SHARE) -> dict[str, np.ndarray]:
    """Keras-style arrays of flagged 1s: from a `share` of the 1s of an MNIST source's training
    split, and from all the 1s of its test split."""
    from digitcli.training.data import load_split

    arrays = {}
    for part, (split, split_share) in enumerate((("train", share), ("test", 1.0))):
        loaded = load_split(source, split)
        x = flagged_ones(loaded.x, loaded.y, split_share, np.random.default_rng([seed, part]))
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, np.ones(len(x), np.uint8)
    return arrays


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m digitcli.training.variants",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .npz file to write")
    parser.add_argument("--data", help="MNIST source (default: DIGITCLI_DATA)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same file")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **variants_dataset(args.data, args.seed))
    print(args.out)


if __name__ == "__main__":
    main()
