"""Honest probabilities: temperature scaling, and how far confidence is from accuracy (ECE)."""

from __future__ import annotations

import math

import numpy as np

from digitcli.network.infer import cross_entropy, softmax

BINS = 15  # the usual reliability-diagram resolution; 10,000 test images give ~650 per used bin
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))


def fit_temperature(z: np.ndarray, labels: np.ndarray) -> float:
    """The T that minimises held-out NLL of softmax(z / T); one number, so accuracy is unchanged.

    NLL is unimodal in log T, so a golden-section search finds the minimum without SciPy.
    """
    z, labels = np.asarray(z, dtype=np.float64), np.asarray(labels, dtype=np.int64)

    def nll(log_t: float) -> float:
        return cross_entropy(z / math.exp(log_t), labels)

    low, high = _LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    for _ in range(60):  # the bracket shrinks to ~1e-12 of log T: far below what matters
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    return float(math.exp((low + high) / 2))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per confidence bin: how many images, their mean confidence and their accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    # Bins are (low, high]; the first also takes confidence exactly 0 (impossible for 10 classes).
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        rows.append({
            "low": b / bins,
            "high": (b + 1) / bins,
            "count": count,
            "confidence": float(confidence[members].mean()) if count else None,
            "accuracy": float(correct[members].mean()) if count else None,
        })
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = BINS) -> float:
    """ECE: the image-weighted mean gap between confidence and accuracy over the bins."""
    total = max(len(labels), 1)
    return float(sum(
        row["count"] / total * abs(row["confidence"] - row["accuracy"])
        for row in reliability(probabilities, labels, bins) if row["count"]
    ))


def report(z: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """ECE before (T = 1) and after scaling, and the reliability table after."""
    after = softmax(np.asarray(z, dtype=np.float64) / temperature)
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(softmax(z), labels),
        "ece_after": expected_calibration_error(after, labels),
        "reliability": reliability(after, labels),
    }
