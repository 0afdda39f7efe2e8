"""Baseline for batch: the floor — only open and decode every picture in a folder with Pillow.

    python bench/baselines/decode_floor.py DIR   → prints how many pictures were decoded

Nothing else happens (no preprocessing, no network, no output per file), in one process: any
batch tool that reads these files with Pillow pays at least this much per core.
"""

import sys
from pathlib import Path

from PIL import Image

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

count = 0
for path in sorted(p for p in Path(sys.argv[1]).iterdir() if p.suffix.lower() in SUFFIXES):
    with Image.open(path) as img:
        img.load()
    count += 1
print(count)
