"""What `evaluate` measures: accuracy, calibration and, against non-digits, the unsure rates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitcli.errors import DataError, DigitcliError
from digitcli.network import calibration, metrics, rejection
from digitcli.network.choice import chosen_input
from digitcli.network.infer import Network
from digitcli.training import data


@dataclass(frozen=True)
class Measured:
    """A model's figures on a labelled test split."""

    split: data.Split
    evaluation: metrics.Evaluation  # of the pictures that could be read
    calibration: dict

    @property
    def accuracy(self) -> float:
        """A picture in which no digit was found is a wrong answer, not a smaller test set."""
        count = self.evaluation.count
        return self.evaluation.accuracy * count / (count + len(self.split.unreadable))


def measure(network: Network, data_source: str | None) -> Measured:
    """Score `network` on the test split of `data_source` (default: MNIST's)."""
    # Pictures in a labelled folder are read as `predict` reads them.
    split = data.load_split(data_source, "test", skip_unreadable=True,
                            image_loader=functools.partial(chosen_input, network=network))
    z = metrics.logits(network, split.x)
    return Measured(split, metrics.score(z, split.y),
                    calibration.report(z, split.y, network.temperature))


def separation(network: Network, judge: rejection.Judge, digits: data.Split, ood: str) -> dict:
    """Unsure rates on the digits of `digits` and on the non-digits in `ood`."""
    from digitcli import inputs, pool, predict as batch  # only for a folder of pictures

    digit_probabilities, digit_unsure = rejection.judge_all(judge, network, digits.x)
    try:
        others = data.load_split(ood, "test")
    except DigitcliError:
        if not Path(ood).is_dir():
            raise
        others = None  # a folder of unlabelled pictures: read them as `predict` would
    if others is not None:
        probabilities, other_unsure = rejection.judge_all(judge, network, others.x)
        other_confidence, source = probabilities.max(axis=1), others.source
    else:
        items = inputs.collect([ood], recursive=True)
        if items[0].error is not None:  # an empty folder: nothing to measure
            raise DataError(f"{ood}: {items[0].error}")
        results = list(batch.predict(items, network, judge=judge,
                                     workers=pool.default_workers()))
        other_confidence = np.array([np.nan if r.confidence is None else r.confidence
                                     for r in results])
        other_unsure = np.array([r.status != "ok" for r in results])
        source = f"pictures in {ood}"
    return {"others_source": source, **rejection.separation(
        digit_probabilities, digit_unsure, digits.y, other_confidence, other_unsure)}
