"""Where one process's time goes per picture: decode, preprocessing, forward pass (and a cProfile).

    python bench/stages.py DIR [--count 200] [--profile 25]

Single process, in-process timers (perf_counter), medians and totals per stage: decode is
`open_gray` with digitcli's draft size, preprocess is `to_mnist` (or, for 28×28 pictures, the
batched MNIST-like test of `load_digits`), forward is one `judge.classify` per 64 inputs, as
predict's chunks (for 28×28 pictures the files are decoded twice: alone, then in load_digits,
so "in all" counts decoding twice). With --profile N, the N functions with the most own time
are printed.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from digitcli.errors import DigitcliError
from digitcli.network import store
from digitcli.network.rejection import Judge
from digitcli.inputs import IMAGE_SUFFIXES
from digitcli.predict import CHUNK
from digitcli.vision.decode import open_gray
from digitcli.vision.preprocess import DRAFT_SIZE, load_digits, to_mnist
from threadpoolctl import threadpool_limits

# One BLAS thread, as in predict's workers (NumPy was imported before digitcli could set
# OPENBLAS_NUM_THREADS): on a busy 2-core machine a second BLAS thread makes a chunk's forward
# pass some 30 times slower.
threadpool_limits(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    paths = sorted(str(p) for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.count]
    network, judge = store.load(store.bundled_model_path()), Judge()
    profiler = cProfile.Profile() if args.profile else None
    decode, prep, inputs = [], [], []
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    small = False
    for path in paths:
        t0 = time.perf_counter()
        try:
            gray = open_gray(path, draft_size=DRAFT_SIZE)
        except DigitcliError:
            continue
        t1 = time.perf_counter()
        decode.append(t1 - t0)
        if gray.shape == (28, 28):
            small = True
            continue
        try:
            inputs.append(to_mnist(gray))
        except DigitcliError:
            pass
        prep.append(time.perf_counter() - t1)
    if small:  # 28×28: load_digits' batched path, as predict does, per chunk
        for i in range(0, len(paths), CHUNK):
            t0 = time.perf_counter()
            outs = load_digits(paths[i : i + CHUNK])
            prep.append(time.perf_counter() - t0)  # per chunk, decode included
            inputs += [o for o in outs if not isinstance(o, DigitcliError)]
    t0 = time.perf_counter()
    for i in range(0, len(inputs), CHUNK):
        judge.classify(network, np.stack(inputs[i : i + CHUNK]))
    forward = time.perf_counter() - t0
    if profiler:
        profiler.disable()
    total = time.perf_counter() - started
    n = len(paths)
    print(f"{n} pictures, {total:.2f} s in all ({1000 * total / n:.2f} ms each)")
    print(f"decode:     median {1000 * statistics.median(decode):.2f} ms, total {sum(decode):.2f} s")
    label = "load_digits per chunk (decode included)" if small else "preprocess"
    print(f"{label}: median {1000 * statistics.median(prep):.2f} ms, total {sum(prep):.2f} s")
    print(f"forward:    total {forward:.3f} s ({1e6 * forward / max(len(inputs), 1):.1f} µs per input)")
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
