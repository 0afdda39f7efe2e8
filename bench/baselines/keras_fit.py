"""Baseline for train: plain Keras `fit` of digitcli's network on MNIST.

    python bench/baselines/keras_fit.py DATA EPOCHS   → one JSON line with test_accuracy and seconds

DATA is a folder of MNIST IDX files (gzipped or raw) or a Keras-style mnist.npz. The network is
784 → 512 relu → 256 relu → 10 linear, Adam(1e-3), SparseCategoricalCrossentropy(from_logits=True),
batch size 128, inputs scaled to [0, 1], seed 0; nothing else (no steps_per_execution, no
learning-rate schedule). Per-epoch time is measured from outside by the benchmark (whole-process
wall time of an EPOCHS=3 run minus an EPOCHS=1 run, halved), the same way as for digitcli.
"""

import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def idx(folder: Path, stem: str, header: int) -> np.ndarray:
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            path = folder / f"{name}{suffix}"
            if path.exists():
                raw = gzip.open(path).read() if suffix else path.read_bytes()
                return np.frombuffer(raw, dtype=np.uint8, offset=header)
    raise SystemExit(f"{folder}: no {stem}")


def load(data: Path):
    if data.suffix == ".npz":
        with np.load(data, allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return (idx(data, "train-images-idx3-ubyte", 16), idx(data, "train-labels-idx1-ubyte", 8),
            idx(data, "t10k-images-idx3-ubyte", 16), idx(data, "t10k-labels-idx1-ubyte", 8))


data, epochs = Path(sys.argv[1]), int(sys.argv[2])
x, y, x_test, y_test = load(data)
x = x.reshape(len(y), 784).astype(np.float32) / 255
x_test = x_test.reshape(len(y_test), 784).astype(np.float32) / 255

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((784,)),
    keras.layers.Dense(512, activation="relu"),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dense(10, activation="linear"),
])
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
started = time.perf_counter()
model.fit(x, y.astype(np.int32), batch_size=128, epochs=epochs, verbose=0)
seconds = time.perf_counter() - started
_, accuracy = model.evaluate(x_test, y_test.astype(np.int32), batch_size=1024, verbose=0)
print(json.dumps({"test_accuracy": float(accuracy), "seconds": round(seconds, 2), "epochs": epochs}))
