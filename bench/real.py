"""Accuracy on real digit pictures from other sources, run through `digitcli predict` as a user would.

Three yardsticks that install from the package registries, for measuring and for finding failures,
never for training or tuning anything:

- `uci`: the 1,797 UCI digits bundled with scikit-learn (`pip install -e '.[bench]'`), 8x8 counts
  0-16 from NIST forms, written as dark ink on light paper with a paper margin and upscaled to
  64x64; reported a second time as a tight crop (the digit touching the picture's edges);
- `drawn`: the 250 hand-drawn 32x32 PNGs in the source package of pyclustering 0.10.1.2
  (`samples/images/digits/Digit_<label>_Sample<n>.png`), fetched once with `pip download` into the
  cache and read straight out of the archive (pyclustering is not installed): the files unchanged,
  and again upscaled 3x bicubic to 96x96 (as from a finer scan of the same drawing);
- `sudoku`: the 26 printed given digits of the phone photo of a newspaper sudoku in Debian's
  `opencv-doc` (`apt-get install opencv-doc`), each cell cut from the photo; the labels below were
  written down by looking at the picture.

Each set is written as PNG files to a temporary folder (or `--workdir`), then read with
`python -m digitcli predict DIR --format jsonl` (the same Python), and its records are scored:

    python bench/real.py --out bench/REAL.md
    python bench/real.py --sets drawn,sudoku --model my-model.npz --failures /tmp/fails
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

SETS = ("uci", "drawn", "sudoku")

PYCLUSTERING = "pyclustering==0.10.1.2"
PYCLUSTERING_SDIST = "pyclustering-0.10.1.2.tar.gz"
PYCLUSTERING_SHA256 = "8a98fd299fcc1e21b7b7c963275162dd7194aa3d921aa66d313775597cf833d1"
DRAWN_NAME = re.compile(r"/samples/images/digits/Digit_(\d)_Sample(\d+)\.png$")

SUDOKU_FILE = Path("/usr/share/doc/opencv-doc/examples/data/sudoku.png")  # or .png.gz
SUDOKU_SHA256 = "000cf81b7ce795013ae02bc9dfb0952aa34153c8c0e7fc99c81918e0738d1f09"  # of the PNG
# The given digits, (row, column) from the top left, 0-based: read off the photo by eye.
SUDOKU_GIVENS = {
    (0, 3): 6, (0, 5): 4, (0, 6): 7,
    (1, 0): 7, (1, 2): 6, (1, 8): 9,
    (2, 5): 5, (2, 7): 8,
    (3, 1): 7, (3, 4): 2, (3, 7): 9, (3, 8): 3,
    (4, 0): 8, (4, 8): 5,
    (5, 0): 4, (5, 1): 3, (5, 4): 1, (5, 7): 7,
    (6, 1): 5, (6, 3): 2,
    (7, 0): 3, (7, 6): 2, (7, 8): 8,
    (8, 2): 2, (8, 3): 3, (8, 5): 1,
}
# Where the thick lines cross in the photo, (x, y) in pixels, row by row from the top left: the
# corners of the nine 3x3 boxes. Measured once on this photo (the darkest line near each crossing
# after a rough perspective fit of the outer corners) and checked by eye. The paper curls, so
# each box gets its own perspective fit rather than one for the whole grid.
SUDOKU_CROSSINGS = (
    ((74, 87), (211, 88), (350, 86), (490, 72)),
    ((62, 214), (207, 213), (351, 215), (499, 208)),
    ((50, 358), (202, 359), (353, 359), (508, 357)),
    ((35, 514), (195, 516), (355, 518), (519, 520)),
)
CELL = 50  # pixels a cell gets in the straightened grid (about its size in the photo)
CELL_INSET = 4  # pixels cut from each side of a cell, so that no grid line is in the picture


class Unavailable(Exception):
    """A set cannot be obtained here (a missing package, no network, another file)."""


@dataclass
class Picture:
    """One picture of a set: its file name, true label, and the PNG bytes a user would have."""

    name: str
    label: int
    png: bytes


@dataclass
class Score:
    """What digitcli made of one set."""

    count: int = 0
    right: int = 0
    unsure: int = 0
    no_digit: int = 0  # status "error": no digit found, or the file could not be read
    ok: int = 0
    ok_right: int = 0
    confusions: Counter = field(default_factory=Counter)  # (true, predicted or None) -> count
    wrong: list = field(default_factory=list)  # (name, true, predicted or None, status)

    def row(self, name: str, seconds: float | None = None) -> list[str]:
        top = ", ".join(f"{t}→{'none' if p is None else p} ×{n}"
                        for (t, p), n in sorted(self.confusions.items(),
                                                key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))[:5])
        return [name, f"{self.count:,}", _share(self.right, self.count), _share(self.unsure, self.count),
                _share(self.ok_right, self.ok), str(self.no_digit), top or "–",
                "" if seconds is None else f"{seconds:.1f}"]


HEADER = ["set", "pictures", "top guess right", "unsure", "right among \"ok\"", "no digit",
          "most common confusions (true→read)", "predict s"]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "–"


def png_bytes(picture: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(picture).save(out, format="PNG")
    return out.getvalue()


# ------------------------------------------------------------------------------------- UCI digits

def uci_picture(counts: np.ndarray, *, margin: int = 4, size: int = 64) -> np.ndarray:
    """An 8x8 UCI digit (ink counts 0-16) as a user's picture: dark ink on light paper, `margin`
    cells of paper around it (0: the digit touches the edges), upscaled bicubic to size x size."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (8, 8):
        raise ValueError(f"a UCI digit is 8x8, not {counts.shape}")
    paper = 255.0 - np.clip(counts, 0, 16) * (255.0 / 16.0)
    paper = np.pad(paper, margin, constant_values=255.0)
    small = Image.fromarray(np.round(paper).astype(np.uint8))
    return np.asarray(small.resize((size, size), Image.Resampling.BICUBIC))


def uci_sets() -> dict[str, list[Picture]]:
    """The UCI digits with a paper margin, and the same as tight crops."""
    try:
        from sklearn.datasets import load_digits  # only here: scikit-learn is an optional extra
    except ImportError:
        raise Unavailable("uci: scikit-learn is not installed (pip install -e '.[bench]')") from None
    digits = load_digits()
    sets: dict[str, list[Picture]] = {"uci": [], "uci, tight crop": []}
    for i, (counts, label) in enumerate(zip(digits.images, digits.target)):
        name = f"{i:04d}_{int(label)}.png"
        sets["uci"].append(Picture(name, int(label), png_bytes(uci_picture(counts))))
        sets["uci, tight crop"].append(Picture(name, int(label), png_bytes(uci_picture(counts, margin=0))))
    return sets


# ---------------------------------------------------------------------------- hand-drawn digits

def pyclustering_sdist(cache: Path) -> Path:
    """The pyclustering source package in the cache, fetched with `pip download` the first time."""
    archive = cache / PYCLUSTERING_SDIST
    if not archive.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                               ":all:", "--disable-pip-version-check", "-q", "-d", str(cache),
                               PYCLUSTERING], capture_output=True, text=True)
        if done.returncode != 0 or not archive.is_file():
            why = (done.stderr.strip().splitlines() or ["no archive"])[-1]
            raise Unavailable(f"drawn: `pip download {PYCLUSTERING}` failed (network?): {why}")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != PYCLUSTERING_SHA256:
        raise Unavailable(f"drawn: {archive} is not the pyclustering 0.10.1.2 sdist (sha256 {digest}); "
                          "delete it to download it again")
    return archive


def upscaled(picture: Picture, factor: int = 3) -> Picture:
    """The same picture `factor` times larger (bicubic), on white where it had transparency."""
    image = Image.open(io.BytesIO(picture.png))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    image = image.convert("RGB")
    big = image.resize((image.width * factor, image.height * factor), Image.Resampling.BICUBIC)
    return Picture(picture.name, picture.label, png_bytes(np.asarray(big)))


def drawn_pictures(archive: Path) -> list[Picture]:
    """The hand-drawn sample digits, read out of the archive; the label is in the file name."""
    pictures = []
    with tarfile.open(archive) as tar:
        for member in tar:
            found = DRAWN_NAME.search(member.name)
            if found and member.isfile():
                label, sample = int(found[1]), int(found[2])
                pictures.append(Picture(f"{label}_{sample:02d}.png", label,
                                        tar.extractfile(member).read()))
    if not pictures:
        raise Unavailable(f"drawn: no samples/images/digits/Digit_*.png in {archive}")
    return sorted(pictures, key=lambda p: p.name)


# ------------------------------------------------------------------------------------ sudoku photo

def sudoku_photo(path: Path | None = None) -> np.ndarray:
    """The sudoku photo (RGB) from opencv-doc, gzipped or not, checked to be the one measured."""
    candidates = [path] if path else [SUDOKU_FILE, SUDOKU_FILE.with_name(SUDOKU_FILE.name + ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            data = candidate.read_bytes()
            if candidate.suffix == ".gz":
                data = gzip.decompress(data)
            break
    else:
        raise Unavailable(f"sudoku: {candidates[0]} not found (apt-get install opencv-doc)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != SUDOKU_SHA256:
        raise Unavailable(f"sudoku: {candidate} is not the photo the grid was measured on (sha256 {digest})")
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def sudoku_cells(photo: np.ndarray) -> list[Picture]:
    """Each given cell cut from the photo: its 3x3 box straightened by a perspective fit of the
    box's corners, then the cell without its grid lines."""
    import cv2  # a digitcli dependency already

    side = 3 * CELL
    target = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    pictures = []
    for (row, col), label in sorted(SUDOKU_GIVENS.items()):
        r, c = row // 3, col // 3
        corners = np.float32([SUDOKU_CROSSINGS[r][c], SUDOKU_CROSSINGS[r][c + 1],
                              SUDOKU_CROSSINGS[r + 1][c + 1], SUDOKU_CROSSINGS[r + 1][c]])
        box = cv2.warpPerspective(photo, cv2.getPerspectiveTransform(corners, target), (side, side),
                                  flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        y, x = (row % 3) * CELL, (col % 3) * CELL
        cell = box[y + CELL_INSET:y + CELL - CELL_INSET, x + CELL_INSET:x + CELL - CELL_INSET]
        pictures.append(Picture(f"r{row}c{col}_{label}.png", label, png_bytes(np.ascontiguousarray(cell))))
    return pictures


# ----------------------------------------------------------------------------- running, scoring

def predict_records(folder: Path, model: Path | None, preprocess: str = "auto") -> list[dict]:
    """`python -m digitcli predict FOLDER --format jsonl`, as a user runs it; its records."""
    command = [sys.executable, "-m", "digitcli", "predict", str(folder), "--format", "jsonl",
               "--preprocess", preprocess]
    env = dict(os.environ)
    if model:
        command += ["--model", str(model)]
    else:
        env.pop("DIGITCLI_MODEL", None)  # the bundled model, whatever the shell says
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if done.returncode not in (0, 6) and not records:  # 6: some inputs failed, records say which
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise RuntimeError(f"digitcli predict {folder} failed: {why}")
    return records


def score(records: list[dict], labels: dict[str, int]) -> Score:
    """Score jsonl records against the labels (keyed by file name). A record with no digit
    counts as wrong; a picture with no record is an error of the run."""
    by_name = {Path(r["path"]).name: r for r in records}
    missing = sorted(set(labels) - set(by_name))
    if missing:
        raise RuntimeError(f"no record for {len(missing)} pictures, e.g. {missing[0]}")
    result = Score()
    for name, label in sorted(labels.items()):
        record = by_name[name]
        status, digit = record["status"], record.get("digit")
        result.count += 1
        result.unsure += status == "unsure"
        result.no_digit += status == "error"
        if status == "ok":
            result.ok += 1
            result.ok_right += digit == label
        if digit == label:
            result.right += 1
        else:
            result.confusions[(label, digit)] += 1
            result.wrong.append((name, label, digit, status))
    return result


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "| " + " | ".join("---" for _ in HEADER) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def obtain(name: str, args: argparse.Namespace) -> dict[str, list[Picture]]:
    if name == "uci":
        return uci_sets()
    if name == "drawn":
        drawn = drawn_pictures(pyclustering_sdist(args.cache))
        return {"drawn": drawn, "drawn, upscaled 3x": [upscaled(p) for p in drawn]}
    return {"sudoku": sudoku_cells(sudoku_photo(args.sudoku))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated, from: " + ", ".join(SETS))
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    parser.add_argument("--preprocess", choices=("auto", "choose"), default="auto",
                        help="digitcli predict's --preprocess (default: auto)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "digitcli-bench",
                        help="where the pyclustering sdist is kept (default: %(default)s)")
    parser.add_argument("--sudoku", type=Path, help=f"the sudoku photo (default: {SUDOKU_FILE})")
    parser.add_argument("--workdir", type=Path, help="write the pictures here (kept), not to a temporary folder")
    parser.add_argument("--failures", type=Path, help="copy every misread picture here, by set")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETS]
    if unknown or not chosen:
        parser.error(f"--sets: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(SETS)}")

    try:
        sets = {k: v for name in chosen for k, v in obtain(name, args).items()}
    except Unavailable as error:
        print(f"real.py: {error}", file=sys.stderr)
        return 2

    rows, started = [], time.perf_counter()
    with contextlib.ExitStack() as stack:
        root = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digitcli-real-")))
        for name, pictures in sets.items():
            folder = root / re.sub(r"\W+", "-", name).strip("-")
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.png"):  # a previous run's pictures (only PNGs: a --workdir is the user's)
                old.unlink()
            for picture in pictures:
                (folder / picture.name).write_bytes(picture.png)
            began = time.perf_counter()
            try:
                result = score(predict_records(folder, args.model, args.preprocess), {p.name: p.label for p in pictures})
            except RuntimeError as error:  # digitcli failed as a whole (a bad --model, say)
                print(f"real.py: {name}: {error}", file=sys.stderr)
                return 1
            seconds = time.perf_counter() - began
            rows.append(result.row(name, seconds))
            print(f"{name}: {result.right}/{result.count} right, {result.unsure} unsure, "
                  f"{seconds:.1f} s", file=sys.stderr)
            if args.failures:
                keep = args.failures / folder.name
                keep.mkdir(parents=True, exist_ok=True)
                for file, label, digit, status in result.wrong:
                    shutil.copyfile(folder / file, keep / f"{label}-read-{digit}-{status}-{file}")
    table = markdown_table(rows)
    command = "python bench/real.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(table, end="")
    if args.out:
        # Notes written by people below NOTES survive a rerun; the rest is this run's.
        kept = args.out.read_text().partition(NOTES)[1:] if args.out.is_file() else ("", "")
        args.out.write_text(
            f"# digitcli on real pictures\n\n`{command.strip()}` with {model_label(args.model)}, "
            f"{time.perf_counter() - started:.0f} s in all (\"predict s\": wall time of each "
            f"`digitcli predict` process).\n\n{table}\n"
            "\"unsure\" pictures still have a top guess, counted in \"top guess right\"; \"no digit\" "
            "(status error) counts as wrong. Confusions list true→read, `none` for no digit.\n"
            + ("\n" + "".join(kept) if kept[0] else ""))
    return 0


NOTES = "## Notes"


def model_label(model: Path | None) -> str:
    """The model file by name and the start of its SHA-256, so a table names what it measured."""
    if model is None:
        from digitcli.network.store import bundled_model_path

        path, name = bundled_model_path(), "the bundled model "
    else:
        path, name = model, ""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
    return f"{name}`{path.name}` (sha256 {digest}…)"


if __name__ == "__main__":
    sys.exit(main())
