"""Choose the default hidden sizes by measurement: validation accuracy, size and speed per network.

Trains each candidate on the first 50,000 MNIST training images and scores it on the last 10,000
(the test set is never used to choose). Run:  DIGITCLI_DATA=path/to/mnist python bench/hidden_sizes.py
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

from digitcli.training import data, model
from digitcli.config import TrainConfig
from digitcli.network.metrics import evaluate

CANDIDATES = ["25,15", "128,64", "256,128", "512,256", "1024,512"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--sizes", nargs="*", default=CANDIDATES)
    args = parser.parse_args()

    train = data.load_split(None, "train")
    x, y, x_val, y_val = train.x[:50_000], train.y[:50_000], train.x[50_000:], train.y[50_000:]
    print("| hidden | parameters | file KB | validation accuracy | train s | predict 10k ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for sizes in args.sizes:
        hidden = tuple(int(s) for s in sizes.split(","))
        config = TrainConfig(hidden=hidden, epochs=args.epochs, augment=args.augment)
        started = time.perf_counter()
        network, _ = model.train(x, y, config)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        accuracy = evaluate(network, x_val, y_val).accuracy
        predict_ms = (time.perf_counter() - started) * 1000
        buffer = io.BytesIO()
        np.savez_compressed(buffer, *[a for l in network.layers for a in (l.weights, l.bias)])
        params = sum(l.weights.size + l.bias.size for l in network.layers)
        print(f"| {sizes} | {params:,} | {len(buffer.getvalue()) // 1024:,} | {accuracy:.2%} "
              f"| {seconds:.0f} | {predict_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
