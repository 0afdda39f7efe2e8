"""Dump every candidate (vision.candidates.propose, the detailed search's first) of a labelled folder.

For trying choice rules offline with candidates_choose.py; the figures in network/choice.py came
from these two scripts on `bench/realistic.py --images` folders of the tuning seeds:

    python bench/experiments/candidates_dump.py FOLDER OUT.npz   # FOLDER holds labels.csv (path,label)
"""
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from digitcli.errors import NoDigitError
from digitcli.vision.candidates import propose
from digitcli.vision.decode import open_gray
from digitcli.vision.ops import as_unit_float
from digitcli.vision.preprocess import DRAFT_SIZE, to_mnist


def one(path: str):
    gray = as_unit_float(open_gray(Path(path), draft_size=DRAFT_SIZE))
    try:
        searched = to_mnist(gray)
    except NoDigitError:
        searched = None
    try:
        found = propose(gray, searched)
    except NoDigitError:
        return [], []
    return list(found.pixels), list(found.sources)


def main():
    folder, out = Path(sys.argv[1]), sys.argv[2]
    rows = list(csv.DictReader(open(folder / "labels.csv")))
    pixels, owner, source = [], [], []
    with ProcessPoolExecutor(2) as pool:
        for i, (p, s) in enumerate(pool.map(one, [str(folder / r["path"]) for r in rows], chunksize=16)):
            pixels += p
            source += s
            owner += [i] * len(p)
    np.savez_compressed(out, pixels=np.stack(pixels), owner=np.array(owner), source=np.array(source),
                        labels=np.array([int(r["label"]) for r in rows]))


if __name__ == "__main__":
    main()
