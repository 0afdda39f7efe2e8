"""Baseline for batch: the plain Keras way to classify a folder of pictures.

    python bench/baselines/keras_batch.py MODEL.keras DIR   → one "path<TAB>digit" line per picture

Decodes every picture with Pillow (grey, 28×28), stacks them, runs one Keras `predict` over all of
them (batch_size=256, the chunk digitcli uses, rather than Keras's default 32) and prints a line each.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

model = keras.saving.load_model(sys.argv[1])
paths = sorted(p for p in Path(sys.argv[2]).iterdir() if p.suffix.lower() in SUFFIXES)
pixels = np.empty((len(paths), 784), dtype=np.uint8)
for i, path in enumerate(paths):
    with Image.open(path) as img:
        pixels[i] = np.asarray(img.convert("L").resize((28, 28))).reshape(784)
logits = model.predict(pixels.astype(np.float32) / 255, batch_size=256, verbose=0)
digits = logits.argmax(axis=1)
sys.stdout.write("".join(f"{path}\t{digit}\n" for path, digit in zip(paths, digits)))
