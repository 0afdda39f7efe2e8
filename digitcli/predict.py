"""Batch prediction: which files to read, and one record per input, in sorted path order."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from digitcli.errors import DigitcliError
from digitcli.infer import Network
from digitcli.rejection import Judge

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Images per forward pass and per task for a worker: large enough to amortise the matrix
# products, small enough to keep workers evenly busy and memory flat. The same chunks serial or
# parallel, so both compute bit-identical probabilities.
CHUNK = 64
# fork starts workers in milliseconds with nothing to re-import; elsewhere, the safe default.
_START_METHOD = "fork" if sys.platform == "linux" else "spawn"


@dataclass(frozen=True, slots=True)  # slots: 100,000 inputs should not cost 100,000 dicts
class Item:
    """One input to predict: a file path, or an argument that already failed (with why)."""

    path: str
    error: str | None = None


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
        """The k most probable digits with their probabilities, most probable first."""
        if self.probabilities is None:
            return []
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

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


def collect(arguments: Iterable[str], *, recursive: bool, stdin: Iterable[str] = ()) -> list[Item]:
    """Expand files, folders and `-` (paths read from stdin) into a sorted list of inputs."""
    items: list[Item] = []
    for argument in arguments:
        if argument == "-":
            names = [line.strip() for line in stdin if line.strip()]
            items.extend(item for name in names for item in _expand(name, recursive))
        else:
            items.extend(_expand(argument, recursive))
    unique = {item.path: item for item in items}
    return sorted(unique.values(), key=lambda item: item.path)


def shard(items: list[Item], k: int, n: int) -> list[Item]:
    """The K-th (1-based) of N contiguous, near-equal slices: shards 1…N partition the inputs.

    Slices are cut at whole chunks, so each image meets the same batch-mates in the forward pass
    as in an unsharded run, and the outputs concatenated in K order are byte-identical to it.
    """
    chunks = -(-len(items) // CHUNK)
    return items[(k - 1) * chunks // n * CHUNK : k * chunks // n * CHUNK]


def _expand(argument: str, recursive: bool) -> list[Item]:
    path = Path(argument)
    if path.is_dir():
        found = [Item(p) for p in _image_files(argument, recursive)]
        if found:
            return found
        hint = "" if recursive else "; add --recursive to look in subfolders"
        kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
        return [Item(argument, f"no images found in this folder (looked for {kinds}{hint})")]
    if not path.exists():
        return [Item(argument, "no such file or folder")]
    return [Item(argument)]


def _image_files(folder: str, recursive: bool) -> Iterator[str]:
    """Image files in `folder` (and below), as plain strings: cheap for 100,000 files."""
    for root, dirs, files in os.walk(folder):
        for name in files:
            if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                yield os.path.join(root, name)
        if not recursive:
            break
        dirs.sort()


def predict(
    items: list[Item],
    network: Network,
    *,
    mode: str = "auto",
    save_dir: Path | None = None,
    workers: int = 1,
    judge: Judge = Judge(),
) -> Iterator[Prediction]:
    """Yield one Prediction per item, in order.

    Decoding and preprocessing dominate the cost, so with `workers` > 1 they run in that many
    processes (chunks come back in order); the forward pass runs here, one batch per chunk.
    """
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    load = partial(load_chunk, mode=mode)
    pool = None
    if workers > 1 and len(chunks) > 1:
        pool = multiprocessing.get_context(_START_METHOD).Pool(min(workers, len(chunks)))
    try:
        loaded = _in_order(pool, load, chunks, window=2 * workers) if pool else map(load, chunks)
        for index, (part, outcomes) in enumerate(zip(chunks, loaded)):
            yield from _classify(part, outcomes, network, save_dir, index * CHUNK, judge)
    finally:
        if pool is not None:
            pool.terminate()


def _in_order(pool, function, tasks: list, window: int) -> Iterator:
    """Like pool.imap, but with at most `window` tasks in flight, so results never pile up."""
    pending: deque = deque()
    for task in tasks:
        pending.append(pool.apply_async(function, (task,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def load_chunk(items: list[Item], *, mode: str) -> list[np.ndarray | str]:
    """Prepare each item's 28×28 input, or say why it failed (runs in worker processes)."""
    from digitcli.preprocess import load_digit

    outcomes: list[np.ndarray | str] = []
    for item in items:
        if item.error is not None:
            outcomes.append(item.error)
            continue
        try:
            outcomes.append(load_digit(Path(item.path), mode=mode))
        except DigitcliError as exc:
            outcomes.append(_without_path(str(exc), item.path))
    return outcomes


def _classify(items, outcomes, network, save_dir, first_index, judge) -> Iterator[Prediction]:
    """One forward pass for the chunk's good images; errors pass through in place."""
    good = [o for o in outcomes if not isinstance(o, str)]
    answers = iter(zip(*judge.classify(network, np.stack(good))) if good else ())
    for index, (item, outcome) in enumerate(zip(items, outcomes), first_index):
        if isinstance(outcome, str):
            yield Prediction(item.path, "error", error=outcome)
            continue
        if save_dir is not None:
            _save_input(outcome, save_dir, index, item.path)
        probabilities, reason = next(answers)
        yield Prediction(item.path, "ok" if reason is None else "unsure", probabilities,
                         reason=reason)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _without_path(message: str, path: str) -> str:
    """Error records carry the path in their own field, so drop a leading "path: "."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _save_input(image: np.ndarray, folder: Path, index: int, path: str) -> None:
    """Write the 28×28 input the network saw, numbered so names never collide."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / f"{index:06d}-{Path(path).stem}.png")


def read_stdin_lines(stream) -> list[str]:
    """Paths piped in, one per line (NUL-separated from `find -print0` too)."""
    text = stream.read()
    separator = "\0" if "\0" in text else os.linesep
    return text.split(separator)
