"""Which candidate is the digit: the one the network finds most digit-like, by its own evidence.

The evidence is the unsure policy's score (the larger of the scaled energy and shape residual, see
network.rejection): low for an input like the digits the network was trained on.  The detailed
search's candidate (first, when there is one) is kept unless another beats it by SEARCH_MARGIN: on
the tuning pictures a smaller margin swapped right answers for wrong ones about as often as back.
Nor is it contested when it is far from any digit (SEARCH_REJECTS past the unsure threshold): then
the picture itself is unlike a digit, and a piece of it that looks like one would hide that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitcli.errors import DigitcliError

if TYPE_CHECKING:
    from digitcli.vision.candidates import Candidates

# Units: the policy's scale (held-out digits' median to 99th percentile). Figures: replays by
# bench/experiments/candidates_choose.py of dumps (candidates_dump.py) of the realistic tuning seeds
# 11 and 12, 2,000 pictures each, pinned fonts, bundled model; the search alone gives 96.90 / 96.40%.
# Margin, with the band below: 0 gives 97.25 / 96.70%, 0.5 gives 97.45 / 97.15%, 1 gives 97.25 / 96.90%.
SEARCH_MARGIN = 0.5
# Past the threshold: a search scoring further is not contested. Bands to +0.5, +1 and +1.5 give
# 97.35 / 97.10%, 97.35 / 97.15% and 97.45 / 97.15%; with every search contested, 97.40 / 97.25%,
# at the cost of more non-digits read as digits (the same replay on Fashion-MNIST PNGs).
SEARCH_REJECTS = 1.5
# Below the threshold: a search scoring lower is kept without proposing others (most pictures, so
# the candidates cost little). With no lower bound: 97.40 / 97.20%, nearly every picture contested.
CONTESTED_BELOW = 0.5
CHOOSE = "choose"  # the preprocessing mode that asks for the choice


def chosen_inputs(paths: Sequence[Path | str], network, *, mode: str = "auto") -> list[np.ndarray | DigitcliError]:
    """Each picture's 28×28 uint8 input as predict reads it, or its error, in order.

    Mode "choose" is mode "auto" with the network's choice among candidates (see `contest`).
    """
    from digitcli.vision.preprocess import load_digits

    contested = contest(network) if mode == CHOOSE else None
    outcomes = load_digits(paths, mode="auto" if mode == CHOOSE else mode, contest=contested)
    if contested is None:
        return outcomes
    proposals = [o for o in outcomes if not isinstance(o, DigitcliError)]
    picks = iter(choose(network, proposals) if proposals else ())
    return [o if isinstance(o, DigitcliError) else o.pixels[next(picks)] for o in outcomes]


def chosen_input(path: Path | str, network, *, mode: str = "auto") -> np.ndarray:
    """One picture's input as predict reads it; raises its error (NoDigitError, InputError, ...)."""
    outcome = chosen_inputs([path], network, mode=mode)[0]
    if isinstance(outcome, DigitcliError):
        raise outcome
    return outcome


def contest(network) -> Callable[[np.ndarray], bool] | None:
    """Whether a picture's search result (28×28 uint8) is worth contesting with other candidates:
    only near the unsure threshold, where another cut could read better (None: never, no policy)."""
    if network.unsure is None:
        return None
    low, high = network.unsure.threshold - CONTESTED_BELOW, network.unsure.threshold + SEARCH_REJECTS

    def contested(pixels: np.ndarray) -> bool:
        score, _ = network.unsure.scores(pixels[None], network.input_scale, network.logits(pixels[None]))
        return bool(low < score[0] <= high)

    return contested


def choose(network, proposals: Sequence[Candidates]) -> list[int]:
    """The index of the chosen candidate of each picture, from one forward pass over all of them.

    Only pictures `contest` let through have more than one candidate; the network has a policy.
    """
    pixels = np.concatenate([p.pixels for p in proposals])
    score, _ = network.unsure.scores(pixels, network.input_scale, network.logits(pixels))
    chosen, start = [], 0
    for p in proposals:
        cost = score[start : start + len(p.pixels)].copy()
        if p.sources[0] == "search":
            cost[0] -= SEARCH_MARGIN
        chosen.append(int(np.argmin(cost)))
        start += len(p.pixels)
    return chosen
