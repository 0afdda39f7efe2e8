"""Baseline for batch and photos: the floor — only open and decode every picture in a folder with Pillow.

    python bench/baselines/decode_floor.py DIR               → prints how many pictures were decoded
    python bench/baselines/decode_floor.py DIR --draft 800   → JPEGs decoded to grey at draft size

Nothing else happens (no preprocessing, no network, no output per file), in one process: any
batch tool that reads these files with Pillow pays at least this much per core.

With --draft N (the photos floor of issue 14) every picture is decoded to grey as cheaply as
Pillow can while keeping at least N px a side: a JPEG through `Image.draft("L", (N, N))` (libjpeg
decodes grey at 1/2, 1/4 or 1/8 size), then made a NumPy grey array; any other format is
converted to "L". bench/run.py passes digitcli's own DRAFT_SIZE (vision/preprocess.py), so the
floor follows digitcli's rule.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

args = sys.argv[1:]
draft = None
if "--draft" in args:
    at = args.index("--draft")
    draft = int(args[at + 1])
    del args[at : at + 2]

count = 0
for path in sorted(p for p in Path(args[0]).iterdir() if p.suffix.lower() in SUFFIXES):
    with Image.open(path) as img:
        if draft is None:
            img.load()
        else:
            if img.format == "JPEG":
                img.draft("L", (draft, draft))
            grey = np.asarray(img if img.mode == "L" else img.convert("L"))
    count += 1
print(count)
