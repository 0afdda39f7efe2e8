"""The choice rule of network.choice, replayed on dumped candidates: accuracy, unsure and caught shares.

For each dump (from candidates_dump.py: a labelled tuning folder, or non-digits with label -1)
it prints, per setting, "right %, unsure %, caught %" (caught: unsure or no candidate at all):
- the search alone (today's auto);
- the choice as network.choice makes it (band CONTESTED_BELOW..SEARCH_REJECTS, SEARCH_MARGIN),
  for several margins and upper bands;
- the same with candidates' disagreement as evidence: a contested pick is called unsure when
  fewer than AGREE of the digit-like candidates (score under the threshold) read its digit.

    python bench/experiments/candidates_choose.py DUMP.npz [DUMP.npz ...]
"""
import sys

import numpy as np

from digitcli.network import store
from digitcli.network.choice import CONTESTED_BELOW, SEARCH_MARGIN, SEARCH_REJECTS

NETWORK = store.load(store.bundled_model_path())
THRESHOLD = NETWORK.unsure.threshold


def scored(path: str) -> dict:
    d = np.load(path)
    z = NETWORK.logits(d["pixels"])
    score, _ = NETWORK.unsure.scores(d["pixels"], NETWORK.input_scale, z)
    n = len(d["labels"])
    starts = np.searchsorted(d["owner"], np.arange(n))
    ends = np.searchsorted(d["owner"], np.arange(n), side="right")
    return {"score": score, "digit": z.argmax(axis=1), "source": d["source"], "labels": d["labels"],
            "pictures": list(zip(starts, ends))}


def replay(d: dict, below: float, rejects: float, margin: float, agree: float | None) -> str:
    score, digit = d["score"], d["digit"]
    right = unsure = missing = 0
    for i, (start, end) in enumerate(d["pictures"]):
        m = np.arange(start, end)
        if not len(m):
            missing += 1
            continue
        searched = d["source"][start] == "search"
        contested = not searched or THRESHOLD - below < score[start] <= THRESHOLD + rejects
        if contested:
            cost = score[m] - np.where(np.arange(len(m)) == 0, margin if searched else 0.0, 0.0)
            chosen = m[np.argmin(cost)]
        else:
            chosen = start
        doubtful = score[chosen] > THRESHOLD
        if agree is not None and contested and not doubtful:
            liked = m[score[m] <= THRESHOLD]
            doubtful = np.mean(digit[liked] == digit[chosen]) < agree
        right += digit[chosen] == d["labels"][i]
        unsure += doubtful
    n = len(d["pictures"])
    return f"{right / n:.2%} right, {unsure / n:.1%} unsure, {(unsure + missing) / n:.1%} caught"


def main():
    dumps = {path.rsplit("/", 1)[-1]: scored(path) for path in sys.argv[1:]}

    def line(name, *setting):
        print(f"{name:<34}", " | ".join(f"{k}: {replay(d, *setting)}" for k, d in dumps.items()))

    line("search alone", -np.inf, -np.inf, 0.0, None)
    for margin in (0.0, SEARCH_MARGIN, 1.0):
        for rejects in (0.5, 1.0, SEARCH_REJECTS):
            line(f"margin {margin:g}, band to +{rejects:g}", CONTESTED_BELOW, rejects, margin, None)
    line(f"margin {SEARCH_MARGIN:g}, no lower bound", np.inf, SEARCH_REJECTS, SEARCH_MARGIN, None)
    line(f"margin {SEARCH_MARGIN:g}, every search contested", np.inf, np.inf, SEARCH_MARGIN, None)
    for agree in (0.5, 0.6, 0.75):
        line(f"as chosen, agreement >= {agree:g}", CONTESTED_BELOW, SEARCH_REJECTS, SEARCH_MARGIN, agree)


if __name__ == "__main__":
    main()
