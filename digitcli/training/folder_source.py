"""Datasets as image folders: pictures in 0/ to 9/ subfolders, each prepared as `predict` prepares it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitcli.errors import DataError, DigitcliError, NoDigitError
from digitcli.inputs import IMAGE_SUFFIXES
from digitcli.training.labelled import SIDE, checked


DIGIT_FOLDERS = tuple(str(d) for d in range(10))
ImageLoader = Callable[[Path], np.ndarray]


def load_folder(
    folder: Path, image_loader: ImageLoader | None, skip_unreadable: bool = False
) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    others = sorted(entry.name + "/" for entry in folder.iterdir() if entry.is_dir()
                    and entry.name not in DIGIT_FOLDERS and not entry.name.startswith("."))
    if others:  # in a labelled dataset, a subfolder that is no label is almost surely a mistake
        one = len(others) == 1
        raise DataError(f"{folder}: subfolder{'' if one else 's'} {', '.join(others)} "
                        f"{'is not a digit label' if one else 'are not digit labels'}: a labelled "
                        f"image folder holds only 0/ to 9/ (move {'it' if one else 'them'} out)")
    files = [
        (digit, f)
        for digit in range(10)
        if (folder / str(digit)).is_dir()
        for f in sorted((folder / str(digit)).iterdir())
        # Not is_file(): a FIFO or device with a picture's name is refused by name, not skipped.
        if f.suffix.lower() in IMAGE_SUFFIXES and not f.is_dir()
    ]
    if not files:
        raise DataError(
            f"{folder}: no images in the digit subfolders 0/ to 9/ "
            f"(looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    if image_loader is None:
        from digitcli.vision.preprocess import load_digit as image_loader  # lazy: Pillow only when needed
    images, labels, kept, unreadable = [], [], [], []
    for digit, f in files:
        try:
            image = np.asarray(image_loader(f))
        except NoDigitError as e:
            if not skip_unreadable:  # training data must be clean: stop rather than skip
                raise DataError(f"{f}: cannot use as a training image: {_unnamed(e, f)}") from e
            unreadable.append(str(e))
            continue
        except DigitcliError as e:
            raise DataError(f"{f}: cannot use as a training image: {_unnamed(e, f)}") from e
        if image.shape != (SIDE, SIDE):
            raise DataError(
                f"{f}: image has shape {image.shape} after loading, expected {SIDE}x{SIDE}"
            )
        images.append(image)
        labels.append(digit)
        kept.append(f)
    if not images:
        raise DataError(f"{folder}: no digit found in any of its {len(files)} pictures")
    x, y = checked(np.stack(images), np.array(labels, np.uint8), str(folder),
                    where=lambda i: str(kept[i]))
    return x, y, "single split: all images", unreadable


def _unnamed(error: Exception, path: Path) -> str:
    """The error's message without its leading "path: ", which ours already says."""
    return str(error).removeprefix(f"{path}: ")
