"""Batch prediction: one record per input, in sorted path order (inputs.py: which files; pool.py: the
worker processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitcli import pool
from digitcli.errors import DigitcliError
from digitcli.files import writing
from digitcli.inputs import Item
from digitcli.network.infer import Network
from digitcli.network.rejection import Judge

# Images per forward pass and per task for a worker: large enough to amortise the matrix
# products, small enough to keep workers evenly busy and memory flat. (Records do not depend on
# it: the forward pass is exact, see infer.py.)
CHUNK = 64
# With workers, at least this many tasks per worker: a task of 64 photos takes a second or more,
# and a worker idle beside the last one would cost up to that much at the end of a batch.
TASKS_PER_WORKER = 32


@dataclass(frozen=True)
class Prediction:
    """The outcome for one input; `status` is "ok", "unsure" (with a `reason`) or "error"."""

    path: str
    status: str
    probabilities: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None
    reason: str | None = None  # why an "unsure" prediction is unsure

    @property
    def digit(self) -> int | None:
        return None if self.probabilities is None else int(self.probabilities.argmax())

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(self.probabilities.max())

    def top(self, k: int) -> list[tuple[int, float]]:
        """The k most probable digits with their probabilities, most probable first (ties: lower digit first)."""
        if self.probabilities is None:
            return []
        values = self.probabilities.tolist()  # plain floats sort faster than a NumPy argsort of 10
        return [(d, values[d]) for d in sorted(range(len(values)), key=values.__getitem__, reverse=True)[:k]]

    def as_record(self, top_k: int | None = None) -> dict:
        """The machine-readable record (json / jsonl / csv)."""
        record = {
            "path": self.path,
            "status": self.status,
            "digit": self.digit,
            "confidence": self.confidence,
            "probabilities": None if self.probabilities is None else self.probabilities.tolist(),
            "error": self.error,
            "reason": self.reason,
        }
        if top_k:
            record["top"] = [{"digit": d, "probability": p} for d, p in self.top(top_k)]
        return record


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: what it is, how sure, and where (x0, y0, x1, y1; end-exclusive)."""

    digit: int
    confidence: float
    box: tuple[int, int, int, int]
    reason: str | None = None  # why this digit is unsure


@dataclass(frozen=True)
class NumberPrediction:
    """`predict --number`: the digits found left to right; unsure if any digit is."""

    path: str
    status: str
    digits: tuple[DigitReading, ...] = ()
    error: str | None = None

    @property
    def number(self) -> str | None:
        return "".join(str(d.digit) for d in self.digits) or None

    @property
    def confidence(self) -> float | None:
        """The number is only as sure as its least sure digit."""
        return min((d.confidence for d in self.digits), default=None)

    @property
    def reason(self) -> str | None:
        return next((f"digit {i} of {len(self.digits)}: {d.reason}"
                     for i, d in enumerate(self.digits, 1) if d.reason), None)

    def as_record(self, top_k: int | None = None) -> dict:
        """The machine-readable record (json / jsonl / csv); `top_k` does not apply."""
        return {
            "path": self.path,
            "status": self.status,
            "number": self.number,
            "confidence": self.confidence,
            "digits": [
                {"digit": d.digit, "confidence": d.confidence, "box": list(d.box),
                 "status": "ok" if d.reason is None else "unsure", "reason": d.reason}
                for d in self.digits
            ],
            "error": self.error,
            "reason": self.reason,
        }


def predict(items: list[Item], network: Network, **options) -> Iterator[Prediction | NumberPrediction]:
    """Yield one Prediction (NumberPrediction with `number`) per item, in order.

    The options are those of predict_with_text, but `text`.
    """
    return (prediction for prediction, _ in predict_with_text(items, network, **options))


def chunk_size(count: int, workers: int) -> int:
    """Pictures per task: CHUNK, or fewer so that each worker gets TASKS_PER_WORKER tasks."""
    return CHUNK if workers <= 1 else max(1, min(CHUNK, -(-count // (workers * TASKS_PER_WORKER))))


def predict_with_text(
    items: list[Item],
    network: Network,
    *,
    mode: str = "auto",
    save_dir: Path | None = None,
    workers: int = 1,
    judge: Judge = Judge(),
    number: bool = False,
    text: Callable[[Prediction | NumberPrediction], str | None] | None = None,
) -> Iterator[tuple[Prediction | NumberPrediction, str | None]]:
    """Yield each item's prediction and, with `text`, the text of its output record, in order.

    With `workers` > 1, chunks are done whole (decode, preprocess, forward pass, record text) in
    that many processes and come back in order: this process only writes.
    """
    size = chunk_size(len(items), workers)
    chunks = [(items[i : i + size], i) for i in range(0, len(items), size)]
    predictor = ChunkPredictor(network, judge, mode, number, save_dir, text)
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield from predictor(*chunk)
        return
    yield from pool.map_chunks(predictor, chunks, workers)


@dataclass(frozen=True)
class ChunkPredictor:
    """Predicts one chunk of items: every record of it, in order, from one forward pass."""

    network: Network
    judge: Judge
    mode: str
    number: bool
    save_dir: Path | None
    # Making the record text here, in the workers, keeps this process's share small: it also
    # unpickles every result while the pool's threads contend for its interpreter lock.
    text: Callable[[Prediction | NumberPrediction], str | None] | None = None

    def __call__(self, items: list[Item], first_index: int) -> list[tuple[Prediction | NumberPrediction, str | None]]:
        classify = _classify_numbers if self.number else _classify
        outcomes = load_chunk(items, mode=self.mode, number=self.number, network=self.network)
        predictions = classify(items, outcomes, self.network, self.save_dir, first_index, self.judge)
        return [(p, self.text(p) if self.text else None) for p in predictions]


def load_chunk(items: list[Item], *, mode: str, network: Network, number: bool = False) -> list:
    """Prepare each item's 28×28 input, chosen by `network` among its candidates (with `number`:
    its Segmentation), or say why it failed. Runs in worker processes.
    """
    readable = [item.path for item in items if item.error is None]
    if number:
        found = (_segment(path) for path in readable)
    else:
        from digitcli.network.choice import chosen_inputs

        found = iter(chosen_inputs(readable, network, mode=mode))
    outcomes: list = []
    for item in items:
        outcome = item.error if item.error is not None else next(found)
        if isinstance(outcome, DigitcliError):
            outcome = _without_path(str(outcome), item.path)
        outcomes.append(outcome)
    return outcomes


def _segment(path: str):
    """The digits of one picture for `--number` (a Segmentation), or the error as a value."""
    from digitcli.vision.segment import find_digits

    try:
        found = find_digits(Path(path))
    except DigitcliError as err:
        return err
    return found if len(found) else "no digit found"


NON_FINITE = "the model gave non-finite probabilities"


def _classify(items, outcomes, network, save_dir, first_index, judge) -> Iterator[Prediction]:
    """One forward pass for the chunk's good images; errors pass through in place."""
    good = [o for o in outcomes if not isinstance(o, str)]
    answers = iter(zip(*_judged(judge, network, np.stack(good))) if good else ())
    for index, (item, outcome) in enumerate(zip(items, outcomes), first_index):
        if isinstance(outcome, str):
            yield Prediction(item.path, "error", error=outcome)
            continue
        if save_dir is not None:
            _save_input(outcome, save_dir, index, item.path)
        probabilities, reason = next(answers)
        if not np.isfinite(probabilities).all():  # never an "ok" NaN, whatever the model holds
            yield Prediction(item.path, "error", error=NON_FINITE)
            continue
        yield Prediction(item.path, "ok" if reason is None else "unsure", probabilities,
                         reason=reason)


def _classify_numbers(items, outcomes, network, save_dir, first_index, judge):
    """One forward pass for every digit of the chunk's pictures; then one record per picture."""
    good = [o for o in outcomes if not isinstance(o, str)]
    if good:
        probabilities, reasons = _judged(judge, network, np.concatenate([o.inputs for o in good]))
        answers = iter(zip(probabilities, reasons))
    for index, (item, outcome) in enumerate(zip(items, outcomes), first_index):
        if isinstance(outcome, str):
            yield NumberPrediction(item.path, "error", error=outcome)
            continue
        digits = []
        for position, (box, pixels) in enumerate(zip(outcome.boxes, outcome.inputs)):
            p, reason = next(answers)
            digits.append(DigitReading(int(p.argmax()), float(p.max()), tuple(map(int, box)),
                                       reason))
            if save_dir is not None:
                _save_input(pixels, save_dir, index, item.path, part=position + 1)
        if not all(np.isfinite(d.confidence) for d in digits):
            yield NumberPrediction(item.path, "error", error=NON_FINITE)
            continue
        status = "ok" if all(d.reason is None for d in digits) else "unsure"
        yield NumberPrediction(item.path, status, tuple(digits))


def _judged(judge: Judge, network: Network, inputs: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """judge.classify, with the probabilities kept to 7 significant digits."""
    probabilities, reasons = judge.classify(network, inputs)
    return seven_digits(probabilities), reasons


def seven_digits(values: np.ndarray) -> np.ndarray:
    """Each value as the float nearest to it rounded to 7 significant digits.

    That is all that float32 logits can tell apart; the rest of a float64 is noise. Records then
    print every value in at most 7 digits (`1.089872e-17`, never `1.0898720000000001e-17`):
    n / 10^k is the nearest float to the decimal only while 10^k is exact (k ≤ 22), so values
    below 1e-16 are rounded by Python's own decimal formatting instead.
    """
    values = np.asarray(values, dtype=np.float64)
    digits = 6 - np.floor(np.log10(np.maximum(np.abs(values), 1e-300)))
    scale = 10.0 ** np.minimum(digits, 22)
    out = np.rint(values * scale) / scale
    tiny = digits > 22
    if tiny.any():
        out[tiny] = [float(f"{v:.7g}") for v in values[tiny].tolist()]
    return out


def _without_path(message: str, path: str) -> str:
    """Error records carry the path in their own field, so drop a leading "path: "."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _save_input(image: np.ndarray, folder: Path, index: int, path: str, part: int = 0) -> None:
    """Write the 28×28 input the network saw, numbered so names never collide."""
    from PIL import Image

    name = f"{index:06d}-{Path(path).stem}" + (f"-{part}" if part else "")
    pixels = np.asarray(image).round().clip(0, 255).astype(np.uint8)  # number digits are float
    target = folder / f"{name}.png"
    with writing(target, "preprocessed input"):  # a full disk stops the batch, naming the file
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target)
