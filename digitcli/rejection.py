"""Knowing when it doesn't know: flag inputs that look unlike any digit as "unsure".

The maximum softmax probability alone is a weak signal: a shirt often gets 99% for some digit.
The policy combines three signals that each grow as an input moves away from the digits the
network was trained on:

- energy, -logsumexp(z): the total evidence in the logits, before the softmax normalises it away;
- feature distance in each hidden layer: the Mahalanobis distance from the hidden activations to
  the nearest digit's mean (shared covariance), measured in a whitened space.

Each signal is put on a common scale by the digits held out at training time (0 at their median,
1 at their 99th percentile), and an input is unsure when the largest of them passes a threshold
set so that a chosen share of those held-out digits (1%) is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitcli.metrics import BATCH

TARGET_REJECTION = 0.01  # share of held-out digits the default policy may call unsure
SHRINKAGE = 1e-3  # covariance regulariser (× mean variance): dead relu units have none
REASONS = {
    "energy": "weak evidence for every digit",
    "distance": "unlike the digits it was trained on",
}


@dataclass(frozen=True)
class UnsurePolicy:
    """Fitted statistics of the training digits, and where "unsure" starts."""

    whiteners: tuple[np.ndarray, ...]  # per hidden layer: W with W Wᵀ = covariance⁻¹
    means: tuple[np.ndarray, ...]  # per hidden layer: the 10 class means, whitened (10, d)
    centre: np.ndarray  # per signal: median on held-out digits
    spread: np.ndarray  # per signal: 99th percentile minus median on held-out digits
    threshold: float  # on the combined score

    @property
    def signal_names(self) -> list[str]:
        return ["energy", *[f"distance{i}" for i in range(len(self.means))]]

    def signals(self, layer_outputs: list[np.ndarray]) -> np.ndarray:
        """Raw signals (N, 1 + hidden layers) from every layer's output."""
        z = np.asarray(layer_outputs[-1], dtype=np.float64)
        m = z.max(axis=1)
        columns = [-(m + np.log(np.exp(z - m[:, None]).sum(axis=1)))]
        for hidden, whitener, means in zip(layer_outputs[:-1], self.whiteners, self.means):
            g = hidden @ whitener
            squared = (g * g).sum(axis=1)[:, None] - 2 * g @ means.T + (means * means).sum(axis=1)
            columns.append(np.sqrt(np.maximum(squared.min(axis=1), 0.0)))
        return np.stack(columns, axis=1)

    def scores(self, layer_outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The combined score per input, and which signal gave it."""
        scaled = (self.signals(layer_outputs) - self.centre) / self.spread
        return scaled.max(axis=1), scaled.argmax(axis=1)

    def reasons(self, layer_outputs: list[np.ndarray]) -> list[str | None]:
        """Why each input is unsure, or None when it looks like a digit."""
        score, worst = self.scores(layer_outputs)
        names = self.signal_names
        return [
            REASONS[names[w].rstrip("0123456789")] if s > self.threshold else None
            for s, w in zip(score, worst)
        ]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain float arrays for the model file (no pickle)."""
        arrays = {"unsure.centre": self.centre, "unsure.spread": self.spread,
                  "unsure.threshold": np.array([self.threshold])}
        for i, (whitener, means) in enumerate(zip(self.whiteners, self.means)):
            arrays[f"unsure.whitener{i}"] = whitener.astype(np.float32)
            arrays[f"unsure.means{i}"] = means.astype(np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], hidden: tuple[int, ...]) -> UnsurePolicy:
        """The inverse of `to_arrays`; KeyError or ValueError when the arrays don't fit."""
        policy = cls(
            tuple(np.asarray(arrays[f"unsure.whitener{i}"], np.float32) for i in range(len(hidden))),
            tuple(np.asarray(arrays[f"unsure.means{i}"], np.float32) for i in range(len(hidden))),
            np.asarray(arrays["unsure.centre"], np.float64),
            np.asarray(arrays["unsure.spread"], np.float64),
            float(np.asarray(arrays["unsure.threshold"]).reshape(-1)[0]),
        )
        values = (*policy.whiteners, *policy.means, policy.centre, policy.spread)
        if not all(np.isfinite(v).all() for v in values) or not np.all(policy.spread > 0):
            raise ValueError("unsure-policy arrays hold non-finite or non-positive values")
        for units, whitener, means in zip(hidden, policy.whiteners, policy.means):
            if whitener.shape != (units, units) or means.shape != (10, units):
                raise ValueError("unsure-policy arrays do not match the network's layers")
        if policy.centre.shape != policy.spread.shape or len(policy.centre) != len(hidden) + 1:
            raise ValueError("unsure-policy signal statistics have the wrong length")
        return policy


def fit(network, x_train: np.ndarray, y_train: np.ndarray, x_held_out: np.ndarray,
        target: float = TARGET_REJECTION) -> UnsurePolicy:
    """Digit statistics from the training images, scales and threshold from held-out digits."""
    y_train = np.asarray(y_train)
    hidden = [np.concatenate(parts) for parts in zip(*(
        network.activations(x_train[i : i + BATCH])[:-1] for i in range(0, len(x_train), BATCH)
    ))]
    whiteners, means = [], []
    for features in hidden:
        features = features.astype(np.float64)
        class_means = np.stack([features[y_train == c].mean(axis=0) for c in range(10)])
        centred = features - class_means[y_train]
        covariance = centred.T @ centred / len(features)
        covariance += SHRINKAGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
        values, vectors = np.linalg.eigh(covariance)
        whitener = vectors / np.sqrt(values)
        whiteners.append(whitener.astype(np.float32))
        means.append((class_means @ whitener).astype(np.float32))
    unscaled = UnsurePolicy(tuple(whiteners), tuple(means), np.zeros(len(hidden) + 1),
                            np.ones(len(hidden) + 1), np.inf)
    raw = _batched(unscaled.signals, network, x_held_out)
    centre = np.median(raw, axis=0)
    spread = np.maximum(np.quantile(raw, 0.99, axis=0) - centre, 1e-9)
    scaled = UnsurePolicy(unscaled.whiteners, unscaled.means, centre, spread, np.inf)
    combined = _batched(lambda outputs: scaled.scores(outputs)[0], network, x_held_out)
    return UnsurePolicy(scaled.whiteners, scaled.means, centre, spread,
                        float(np.quantile(combined, 1 - target)))


def _batched(function, network, x: np.ndarray) -> np.ndarray:
    """`function` of the layer outputs, over `x` in batches, concatenated."""
    return np.concatenate([
        function(network.activations(x[i : i + BATCH])) for i in range(0, len(x), BATCH)
    ])


@dataclass(frozen=True)
class Judge:
    """When to answer "unsure": the model's own policy (if it has one) and a confidence floor."""

    policy: bool = True
    min_confidence: float | None = None

    def classify(self, network, inputs: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Calibrated probabilities (N, 10), and why each input is unsure (None: it isn't)."""
        outputs = network.activations(inputs)
        probabilities = network.softmax(outputs[-1])
        if self.policy and network.unsure is not None:
            reasons = network.unsure.reasons(outputs)
        else:
            reasons = [None] * len(probabilities)
        if self.min_confidence:
            reasons = [
                reason or (f"confidence {c:.1%} is below the minimum {self.min_confidence:.0%}"
                           if c < self.min_confidence else None)
                for reason, c in zip(reasons, probabilities.max(axis=1))
            ]
        return probabilities, reasons


def judge_all(judge: Judge, network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, 10) and an unsure mask (N,) for arrays of 28×28 inputs, in batches."""
    probabilities, unsure = [], []
    for i in range(0, len(x), BATCH):
        p, reasons = judge.classify(network, x[i : i + BATCH])
        probabilities.append(p)
        unsure.append(np.array([r is not None for r in reasons], dtype=bool))
    return np.concatenate(probabilities), np.concatenate(unsure)


def separation(digit_probabilities: np.ndarray, digit_unsure: np.ndarray, labels: np.ndarray,
               other_confidence: np.ndarray, other_unsure: np.ndarray) -> dict:
    """How well "unsure" separates non-digits from digits, against max probability alone.

    `other_confidence` holds NaN for non-digit inputs that failed before classification (no ink
    found): those count as rejected by both.
    """
    confidence = digit_probabilities.max(axis=1)
    accepted = ~digit_unsure
    correct = digit_probabilities.argmax(axis=1) == np.asarray(labels)
    digit_rate = float(digit_unsure.mean())
    # The plain alternative at the same cost: a max-probability floor that rejects as many digits.
    floor = float(np.quantile(confidence, digit_rate)) if digit_rate else 0.0
    baseline = ~(np.nan_to_num(other_confidence, nan=-1.0) >= floor)
    return {
        "digits": int(len(confidence)),
        "digits_rejected": digit_rate,
        "accuracy_on_accepted_digits": float(correct[accepted].mean()) if accepted.any() else None,
        "others": int(len(other_unsure)),
        "others_rejected": float(other_unsure.mean()),
        "max_probability_floor": floor,
        "others_rejected_by_floor": float(baseline.mean()),
    }
