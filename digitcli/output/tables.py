"""What people read: Rich tables and 28×28 pictures as text (records for programs: records.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from digitcli import files
from digitcli.network.metrics import Evaluation
from digitcli.predict import NumberPrediction, Prediction
from digitcli.output.records import stream_name

BAR_WIDTH = 30
SHADES = " .:-=+*#%@"  # dark → bright; plain characters read well in logs and on any terminal


def console(stream: TextIO | None = None) -> Console:
    """A Console on stdout (data) or stderr (people); Rich drops ANSI codes when not a terminal."""
    return _Console(file=stream or sys.stdout, highlight=False, soft_wrap=False)


class _Console(Console):
    """A Console whose failed writes name their stream: a full disk is not a bug (exit 10)."""

    def print(self, *objects, **options) -> None:
        try:
            super().print(*objects, **options)
        except OSError:
            with files.writing(stream_name(self.file)):
                raise


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar for a probability, with eighth-block resolution."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


# ---------------------------------------------------------------------------- predict


def prediction_table(prediction: Prediction) -> Table:
    """One image: the digit, its confidence and a bar for each of the 10 probabilities."""
    title = f"digit {prediction.digit} ({prediction.confidence:.2%})"
    if prediction.status == "unsure":
        title = f"unsure: {prediction.reason}; best guess {title}"
    table = Table(title=title, caption=prediction.path)
    table.add_column("digit", justify="right")
    table.add_column("probability", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    for digit, probability in enumerate(prediction.probabilities):
        style = "bold green" if digit == prediction.digit else ""
        table.add_row(str(digit), f"{probability:.2%}", Text(bar(probability), style=style))
    return table


def predictions_table(predictions: list[Prediction], top_k: int) -> Table:
    """Many images: one row each, with the next most likely digits."""
    table = Table()
    table.add_column("path", overflow="fold")
    table.add_column("digit", justify="right")
    table.add_column("confidence", justify="right")
    if top_k > 1:
        table.add_column(f"next {top_k - 1}")
    table.add_column("status")
    for p in predictions:
        row = [p.path, "" if p.digit is None else str(p.digit), percent(p.confidence)]
        if top_k > 1:
            row.append("  ".join(f"{d}:{q:.1%}" for d, q in p.top(top_k)[1:]))
        row.append(status_text(p))
        table.add_row(*row)
    return table


def status_text(p: Prediction | NumberPrediction) -> Text | str:
    """The status column: ok, unsure with its reason, or the error."""
    if p.status == "error":
        return Text(f"error: {p.error}", style="red")
    if p.status == "unsure":
        return Text(f"unsure: {p.reason}", style="yellow")
    return "ok"


def number_table(prediction: NumberPrediction) -> Table:
    """One picture with `--number`: the number, then each digit with its confidence and box."""
    title = f"number {prediction.number} ({prediction.confidence:.2%} for its least sure digit)"
    if prediction.status == "unsure":
        title = f"unsure: {prediction.reason}; best guess {title}"
    table = Table(title=title, caption=prediction.path)
    for name in ("#", "digit", "confidence", "box (x0, y0, x1, y1)", "status"):
        table.add_column(name, justify="right")
    for i, d in enumerate(prediction.digits, 1):
        status = "ok" if d.reason is None else Text(f"unsure: {d.reason}", style="yellow")
        table.add_row(str(i), str(d.digit), f"{d.confidence:.2%}", ", ".join(map(str, d.box)),
                      status)
    return table


def numbers_table(predictions: list[NumberPrediction]) -> Table:
    """Many pictures with `--number`: one row each, with every digit's confidence."""
    table = Table()
    table.add_column("path", overflow="fold")
    table.add_column("number", justify="right")
    table.add_column("digit confidences")
    table.add_column("status")
    for p in predictions:
        confidences = "  ".join(f"{d.digit}:{d.confidence:.0%}" for d in p.digits)
        table.add_row(p.path, p.number or "", confidences, status_text(p))
    return table


def digit_counts_table(digits: np.ndarray, count: int, failures: int, unsure: int) -> Table:
    """A large batch in brief: how many images were read as each digit."""
    table = Table(title=f"{count:,} images (use --format jsonl or csv for one line each)")
    table.add_column("digit", justify="right")
    table.add_column("images", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    for digit, n in enumerate(digits):
        table.add_row(str(digit), f"{n:,}", bar(n / max(digits.max(), 1)))
    table.add_row("of these unsure", f"{unsure:,}", "")
    table.add_row("failed", f"{failures:,}", "")
    return table


# ---------------------------------------------------------------------------- evaluate


def evaluation_tables(evaluation: Evaluation, model: str, data: str,
                      unreadable: int = 0) -> list[Table]:
    """Summary, per-class figures, confusion matrix and the most frequent confusions."""
    total = evaluation.count + unreadable
    rows = [("model", model), ("data", data),
            ("accuracy", f"{evaluation.accuracy * evaluation.count / total:.2%}"),
            ("loss", f"{evaluation.loss:.4f}"), ("images", f"{total:,}")]
    if unreadable:
        rows += [("no digit found", f"{unreadable:,} (counted as wrong; not in the tables below)")]
    summary = key_value_table("Evaluation", rows)

    per_class = Table(title="Per digit")
    for name in ("digit", "precision", "recall", "F1", "support"):
        per_class.add_column(name, justify="right")
    for row in evaluation.per_class():
        per_class.add_row(
            str(row["digit"]),
            f"{row['precision']:.2%}",
            f"{row['recall']:.2%}",
            f"{row['f1']:.2%}",
            str(row["support"]),
        )

    confusion = Table(title="Confusion matrix (rows: true digit, columns: predicted)")
    confusion.add_column("", justify="right", style="bold")
    for d in range(10):
        confusion.add_column(str(d), justify="right")
    for t, counts in enumerate(evaluation.confusion):
        confusion.add_row(
            str(t),
            *[Text(str(c), style="bold green" if t == p else ("red" if c else "dim")) for p, c in enumerate(counts)],
        )

    mistakes = Table(title="Most frequent confusions")
    for name in ("true", "predicted as", "count"):
        mistakes.add_column(name, justify="right")
    for c in evaluation.top_confusions():
        mistakes.add_row(str(c["true"]), str(c["predicted"]), str(c["count"]))
    return [summary, per_class, confusion, mistakes]


def calibration_tables(calibrated: dict) -> list[Table]:
    """ECE before and after temperature scaling, and the reliability table after it."""
    summary = key_value_table("Calibration", [
        ("temperature", f"{calibrated['temperature']:.3f}"),
        ("ECE before (T = 1)", f"{calibrated['ece_before']:.2%}"),
        ("ECE after", f"{calibrated['ece_after']:.2%}"),
    ])
    table = Table(title="Reliability (after calibration)")
    for name in ("confidence bin", "images", "mean confidence", "accuracy", "gap"):
        table.add_column(name, justify="right")
    for row in calibrated["reliability"]:
        if row["count"]:
            table.add_row(f"{row['low']:.0%}–{row['high']:.0%}", f"{row['count']:,}",
                          f"{row['confidence']:.2%}", f"{row['accuracy']:.2%}",
                          f"{row['accuracy'] - row['confidence']:+.2%}")
    return [summary, table]


def separation_table(separation: dict) -> Table:
    """`evaluate --ood`: unsure rates on non-digits against digits, and max probability alone."""
    return key_value_table("Unsure: non-digits against digits", [
        ("non-digits", f"{separation['others_source']} ({separation['others']:,})"),
        ("non-digits called unsure", f"{separation['others_rejected']:.2%}"),
        ("digits called unsure", f"{separation['digits_rejected']:.2%}"),
        ("accuracy on the other digits", "" if separation["accuracy_on_accepted_digits"] is None
         else f"{separation['accuracy_on_accepted_digits']:.2%}"),
        ("max probability alone, same digit cost",
         f"{separation['others_rejected_by_floor']:.2%} of non-digits "
         f"(floor {separation['max_probability_floor']:.2%})"),
    ])


# ---------------------------------------------------------------------------- inspect and train


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def training_table(summary: dict) -> Table:
    """`train`: the model file, its test figures, and whether it was promoted (runrecord.summary)."""
    rows = [("model file", summary["model"]),
            ("test accuracy", f"{summary['test_accuracy']:.2%} of {summary['test_count']:,}"),
            ("test loss", f"{summary['test_loss']:.4f}"),
            ("network", f"784 → {' → '.join(map(str, summary['hidden']))} → 10"),
            ("epochs", summary["epochs_run"]), ("time", f"{summary['seconds']:.0f} s"),
            ("data", summary["data"]), ("run record", summary["run_dir"])]
    if summary["promoted"] is not None:
        rows.append(("promoted", "yes" if summary["promoted"] else "no: " + "; ".join(summary["gate_failures"])))
    return key_value_table("Training finished", rows)


def picture(pixels: np.ndarray) -> str:
    """A 28×28 uint8 image as text, two characters per pixel so it keeps its shape."""
    levels = (pixels.astype(np.int32) * (len(SHADES) - 1) + 127) // 255
    return "\n".join("".join(SHADES[v] * 2 for v in row) for row in levels)


def vector_table(title: str, values: np.ndarray, *, top: int | None = None) -> Table:
    """A layer's values; for wide layers, a summary and its `top` most active units."""
    table = Table(title=title)
    table.add_column("unit", justify="right")
    table.add_column("value", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    order = np.arange(len(values)) if top is None else np.argsort(-values, kind="stable")[:top]
    # Bars start at the lowest value when some are negative (logits), so a larger value always
    # has the longer bar; a bar of |value| would draw -9 longer than +2.
    base = min(0.0, float(values.min()))
    span = float(values.max()) - base or 1.0
    for i in order:
        table.add_row(str(i), f"{values[i]:.4f}", bar((float(values[i]) - base) / span))
    if base < 0:
        table.caption = f"bars start at the lowest value, {base:.4f}"
    if top is not None:
        active = int((values > 0).sum())
        table.caption = f"{active} of {len(values)} units active (> 0); mean {values.mean():.4f}"
    return table


def model_tables(summary: dict) -> list[Table]:
    """`inspect`: the layers table, then how the model was trained and how well it did."""
    layers = Table(title=f"Layers ({summary['parameters']:,} parameters)")
    for name in ("#", "units", "act.", "W shape", "params", "W mean ± std", "W min … max"):
        layers.add_column(name, justify="right", no_wrap=True)
    for row in summary["layers"]:
        layers.add_row(
            str(row["layer"]), str(row["units"]), row["activation"],
            "×".join(map(str, row["weights_shape"])), f"{row['parameters']:,}",
            f"{row['weight_mean']:+.3f} ± {row['weight_std']:.3f}",
            f"{row['weight_min']:+.2f} … {row['weight_max']:+.2f}",
        )
    tables = [layers]
    training = summary.get("training") or {}
    data = summary.get("data") or {}
    metrics = summary.get("metrics") or {}
    if training or data or metrics:
        rows = [(k.replace("_", " "), v) for k, v in training.items()]
        rows += [("data", data.get("source")), ("training images", data.get("train_count")),
                 ("data SHA-256", data.get("fingerprint_sha256"))]
        if metrics.get("test_accuracy") is not None:
            rows += [("test accuracy", f"{metrics['test_accuracy']:.2%}"),
                     ("test loss", f"{metrics['test_loss']:.4f}")]
        calibration = summary.get("calibration") or {}
        if calibration.get("fitted_on"):
            rows += [("temperature", f"{calibration['temperature']:.3f} "
                                     f"(fitted on the {calibration['fitted_on']})"),
                     ("test ECE", f"{calibration['test_ece_before']:.2%} before, "
                                  f"{calibration['test_ece_after']:.2%} after")]
        rows.append(("unsure policy", "fitted" if summary.get("unsure_policy") else
                     "none (only --min-confidence applies)"))
        rows += [("created", summary.get("created")), ("command", summary.get("command"))]
        versions = summary.get("versions") or {}
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
        tables.append(key_value_table("How it was trained", [(k, v) for k, v in rows if v is not None]))
    return tables


def trace_renderables(trace: dict) -> list:
    """`inspect --image`: the input picture, a[1], a[2], …, z and the softmax, in course notation."""
    pixels = np.array(trace["input"], dtype=np.uint8)
    items: list = [Text(f"x: the 28×28 input the network sees for {trace['path']}", style="bold"),
                   Text(picture(pixels))]
    for i, a in enumerate(trace["activations"], 1):
        previous = "x" if i == 1 else f"a[{i - 1}]"
        items.append(vector_table(f"a[{i}] = relu(W[{i}]·{previous} + b[{i}])  ({len(a)} units, top 10)",
                                  np.array(a), top=10))
    n = len(trace["activations"]) + 1
    items.append(vector_table(f"z = W[{n}]·a[{n - 1}] + b[{n}]  (logits)", np.array(trace["logits"])))
    temperature = trace["temperature"]
    softmax_title = "softmax(z)" if temperature == 1 else f"softmax(z / {temperature:.3f})"
    items.append(vector_table(f"{softmax_title}  (probabilities)", np.array(trace["softmax"])))
    verdict = f"prediction: {trace['digit']} ({trace['confidence']:.2%})"
    if trace["unsure"]:
        items.append(Text(f"unsure: {trace['unsure']}; best guess {verdict}", style="bold yellow"))
    else:
        items.append(Text(verdict, style="bold green"))
    return items
