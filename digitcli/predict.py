"""Batch prediction: which files to read, and one record per input, in sorted path order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitcli.errors import DigitcliError
from digitcli.infer import Network

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CHUNK = 256  # images decoded per forward pass: amortises the matrix products, keeps memory flat


@dataclass(frozen=True)
class Item:
    """One input to predict: a file path, or an argument that already failed (with why)."""

    path: str
    error: str | None = None


@dataclass(frozen=True)
class Prediction:
    """The outcome for one input; `status` is "ok" or "error"."""

    path: str
    status: str
    probabilities: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None

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


def _expand(argument: str, recursive: bool) -> list[Item]:
    path = Path(argument)
    if path.is_dir():
        walk = path.rglob("*") if recursive else path.iterdir()
        found = [Item(str(p)) for p in walk if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if found:
            return found
        hint = "" if recursive else "; add --recursive to look in subfolders"
        kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
        return [Item(argument, f"no images found in this folder (looked for {kinds}{hint})")]
    if not path.exists():
        return [Item(argument, "no such file or folder")]
    return [Item(argument)]


def predict(
    items: list[Item],
    network: Network,
    *,
    load,
    save_dir: Path | None = None,
) -> Iterator[Prediction]:
    """Yield one Prediction per item, in order; `load(path) -> uint8 (28, 28)` prepares an image."""
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        pixels: list[np.ndarray] = []
        errors: list[str | None] = []
        for index, item in enumerate(chunk, start):
            error = item.error
            if error is None:
                try:
                    image = load(Path(item.path))
                    pixels.append(image)
                    if save_dir is not None:
                        _save_input(image, save_dir, index, item.path)
                except DigitcliError as exc:
                    error = _without_path(str(exc), item.path)
            errors.append(error)
        probabilities = iter(network.probabilities(np.stack(pixels)) if pixels else ())
        for item, error in zip(chunk, errors):
            if error is None:
                yield Prediction(item.path, "ok", next(probabilities))
            else:
                yield Prediction(item.path, "error", error=error)


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
