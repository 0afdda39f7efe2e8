"""The record a training run leaves for people: figures, history, confusions and pictures.

matplotlib draws the charts (imported only here, only when a run finishes), with the Agg
backend so cron and CI machines without a display work.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from digitcli.network.infer import Network
from digitcli.network.metrics import BATCH, Evaluation

MISTAKES_SHOWN = 25


def summary(result) -> dict:
    """What `train` reports of a finished run (a trainer.Result): its record for programs."""
    decision = result.decision
    return {
        "model": str(result.model_path),
        "test_accuracy": result.evaluation.accuracy,
        "test_loss": result.evaluation.loss,
        "test_count": result.evaluation.count,
        "seconds": round(result.seconds, 1),
        "epochs_run": len(result.history),
        "hidden": list(result.network.hidden),
        "data": result.network.metadata["data"]["source"],
        "run_dir": str(result.run_dir),
        "promoted": None if decision is None else decision.promote,
        "gate_failures": None if decision is None else decision.reasons,
    }


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_history(path: Path, history: list[dict]) -> None:
    """history.csv: one row per epoch with every metric Keras reported."""
    fields = ["epoch"] + sorted({k for entry in history for k in entry} - {"epoch"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)


def write_confusion(path: Path, evaluation: Evaluation) -> None:
    """confusion.csv: rows are true digits, columns predicted digits."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["true\\predicted", *range(10)])
        for digit, row in enumerate(evaluation.confusion):
            writer.writerow([digit, *row.tolist()])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: Path, history: list[dict]) -> None:
    """training_curves.png: loss and accuracy per epoch, training vs validation."""
    plt = _pyplot()
    epochs = [entry["epoch"] for entry in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [e.get(metric) for e in history], marker="o", label="training")
        if any("val_" + metric in e for e in history):
            ax.plot(epochs, [e.get("val_" + metric) for e in history], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(path: Path, evaluation: Evaluation) -> None:
    """confusion.png: the confusion matrix as a heatmap (log colour scale shows rare mistakes)."""
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    counts = evaluation.confusion
    image = ax.imshow(counts + 1, cmap="Blues", norm=LogNorm())
    for t in range(10):
        for p in range(10):
            if counts[t, p]:
                colour = "white" if t == p else ("darkred" if counts[t, p] else "black")
                ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"Confusion matrix (accuracy {evaluation.accuracy:.2%})")
    fig.colorbar(image, ax=ax, label="images + 1")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_mistakes(path: Path, network: Network, x: np.ndarray, y: np.ndarray) -> int:
    """mistakes.png: the test images the model got wrong most confidently. Returns how many."""
    plt = _pyplot()
    probabilities = np.concatenate(
        [network.probabilities(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    ) if len(x) else np.zeros((0, 10))
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-probabilities[wrong].max(axis=1), kind="stable")][:MISTAKES_SHOWN]
    columns = 5
    rows = max(1, -(-len(wrong) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(x[i].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{y[i]} → {predicted[i]} ({probabilities[i].max():.0%})", fontsize=8)
    fig.suptitle("Most confident mistakes (true → predicted)" if len(wrong) else "No mistakes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(wrong)
