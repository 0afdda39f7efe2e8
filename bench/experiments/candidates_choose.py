"""Accuracy and unsure share of the choice rule (network.choice) for several margins, on dumped candidates.

    python bench/experiments/candidates_choose.py DUMP.npz [DUMP.npz ...]   # from candidates_dump.py
"""
import sys

import numpy as np

from digitcli.network import store


def main():
    network = store.load(store.bundled_model_path())
    threshold = network.unsure.threshold
    dumps = []
    for path in sys.argv[1:]:
        d = np.load(path)
        z = network.logits(d["pixels"])
        dumps.append((d, z.argmax(axis=1), network.unsure.scores(d["pixels"], network.input_scale, z)[0]))
    for margin in (0.0, 0.5, 1.0, 2.0, np.inf):
        line = []
        for d, digit, score in dumps:
            n = len(d["labels"])
            cost = score - np.where(d["source"] == "search", margin, 0.0)
            chosen = np.full(n, -1)
            for i in np.argsort(-cost, kind="stable"):  # the lowest cost is written last
                chosen[d["owner"][i]] = i
            ok = chosen >= 0
            right = np.zeros(n, bool)
            right[ok] = digit[chosen[ok]] == d["labels"][ok]
            unsure = np.mean(score[chosen[ok]] > threshold)
            line.append(f"{right.mean():.2%} right, {unsure:.1%} unsure")
        print(f"margin {margin:<4g}", " | ".join(line))


if __name__ == "__main__":
    main()
