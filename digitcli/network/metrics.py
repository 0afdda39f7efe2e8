"""Classification figures for `evaluate` and the training summary (pure NumPy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitcli.network.infer import Network, cross_entropy

CLASSES = 10
BATCH = 4096  # rows per forward pass: large enough for fast BLAS, small enough for flat memory


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, loss and the confusion matrix of one model on one labelled set."""

    accuracy: float
    loss: float
    confusion: np.ndarray  # (10, 10) int: rows = true digit, columns = predicted digit

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    def per_class(self) -> list[dict]:
        """Precision, recall, F1 and support for each digit."""
        rows = []
        for digit in range(CLASSES):
            hits = int(self.confusion[digit, digit])
            predicted = int(self.confusion[:, digit].sum())
            support = int(self.confusion[digit].sum())
            precision = hits / predicted if predicted else 0.0
            recall = hits / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append(dict(digit=digit, precision=precision, recall=recall, f1=f1, support=support))
        return rows

    def top_confusions(self, n: int = 5) -> list[dict]:
        """The most frequent (true, predicted) mistakes, most frequent first."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")[:n]
        pairs = [np.unravel_index(i, off.shape) for i in order]
        return [
            dict(true=int(t), predicted=int(p), count=int(off[t, p])) for t, p in pairs if off[t, p]
        ]

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "count": self.count,
            "per_class": self.per_class(),
            "confusion_matrix": self.confusion.tolist(),
            "top_confusions": self.top_confusions(),
        }


def logits(network: Network, x: np.ndarray) -> np.ndarray:
    """The network's logits (N, 10) for pixels `x`, computed in batches."""
    parts = [network.logits(x[start : start + BATCH]) for start in range(0, len(x), BATCH)]
    return np.concatenate(parts) if parts else np.zeros((0, CLASSES), np.float32)


def score(z: np.ndarray, y: np.ndarray) -> Evaluation:
    """Compare logits `z` with labels `y`."""
    y = np.asarray(y, dtype=np.int64)
    predicted = z.argmax(axis=1)
    confusion = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    if not len(y):
        return Evaluation(0.0, 0.0, confusion)
    return Evaluation(float((predicted == y).mean()), cross_entropy(z, y), confusion)


def evaluate(network: Network, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Run `network` over pixels `x` in batches and compare with labels `y`."""
    return score(logits(network, x), y)
