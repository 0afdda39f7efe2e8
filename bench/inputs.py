"""The benchmarks' inputs, built from DIGITCLI_DATA in a work folder (a temporary one by default).

Each input folder is written completely before a `.done` marker goes in, so a reused work folder
(`run.py --workdir DIR`) never serves a half-written set. File names carry the label
(`00042_7.png`), so outputs can be checked for accuracy cheaply.
"""

from __future__ import annotations

import gzip
import inspect
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PHOTO_SIZE = (1200, 900)  # (width, height)


def label_of(path: str) -> int:
    """The label encoded in a benchmark file name (`<index>_<label>.<ext>`)."""
    return int(Path(path).stem.rsplit("_", 1)[1])


def _done(folder: Path) -> bool:
    return (folder / ".done").exists()


def _mark_done(folder: Path) -> None:
    (folder / ".done").write_text("complete\n")


# ---------------------------------------------------------------------------- MNIST


def _idx_file(data: Path, stem: str) -> Path:
    """t10k-images-idx3-ubyte(.gz), also the `t10k-images.idx3-ubyte` spelling."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            if (data / f"{name}{suffix}").exists():
                return data / f"{name}{suffix}"
    raise FileNotFoundError(f"{data}: no {stem}[.gz] (set DIGITCLI_DATA to the MNIST IDX folder)")


def _read_idx(path: Path, header: int) -> np.ndarray:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    return np.frombuffer(raw, dtype=np.uint8, offset=header)


def mnist(data: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 784), labels uint8 (N,)) of the "train" or "t10k" split."""
    x = _read_idx(_idx_file(data, f"{split}-images-idx3-ubyte"), 16).reshape(-1, 784)
    y = _read_idx(_idx_file(data, f"{split}-labels-idx1-ubyte"), 8)
    return x, y


def mnist_pngs(data: Path, out: Path, count: int) -> Path:
    """The first `count` MNIST test images as 28×28 PNG files in `out`."""
    if _done(out):
        return out
    out.mkdir(parents=True, exist_ok=True)
    x, y = mnist(data, "t10k")
    if count > len(y):
        raise ValueError(f"only {len(y)} MNIST test images, asked for {count}")
    for index in range(count):
        Image.fromarray(x[index].reshape(28, 28)).save(out / f"{index:05d}_{y[index]}.png")
    _mark_done(out)
    return out


def linked_copies(source: Path, out: Path, count: int | None = None, copies: int = 1) -> Path:
    """`copies` subfolders of hard links (symlinks if that fails) to the first `count` files of `source`.

    With copies=1 the links go straight into `out`; otherwise into out/part0 … out/part{copies-1}
    (for `predict --recursive`). Links cost no image data on disk.
    """
    if _done(out):
        return out
    files = sorted(p for p in source.iterdir() if not p.name.startswith("."))[:count]
    for copy in range(copies):
        folder = out if copies == 1 else out / f"part{copy}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = folder / f.name
            if not target.exists():
                try:
                    os.link(f, target)
                except OSError:
                    target.symlink_to(f.resolve())
    _mark_done(out)
    return out


def mnist_npz(data: Path, out: Path, train_count: int) -> Path:
    """A Keras-style mnist.npz with the first `train_count` training images and the whole test set."""
    if out.exists():
        return out
    x, y = mnist(data, "train")
    x_test, y_test = mnist(data, "t10k")
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, x_train=x[:train_count].reshape(-1, 28, 28), y_train=y[:train_count],
             x_test=x_test.reshape(-1, 28, 28), y_test=y_test)
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------------------- photos


PHOTO_CHUNK = 25  # pictures per generate() call: the set is chunk j = generate(25, seed=j), j = 0, 1, …


def photos(out: Path, count: int, *, workers: int = 0) -> tuple[Path, str]:
    """`count` photo-like 1200×900 JPEGs of digits; returns the folder and how they were made.

    Uses `digitcli.synth.realistic.generate(count, seed, photo_size=…)` when it exists, otherwise draws simple
    digits with Pillow. Only that public function is used: chunk j of PHOTO_CHUNK pictures is
    generate(PHOTO_CHUNK, seed=j), so the chunks can be made in parallel and the set is the same on
    every machine (a smaller set is the start of a larger one).
    """
    source = _photo_source()
    if _done(out):
        return out, source
    if source.startswith("digitcli.synth.realistic"):
        from digitcli.synth import fonts

        fonts.require("bench")  # one line if the pinned fonts are missing; the workers inherit the check
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, j, min(PHOTO_CHUNK, count - j * PHOTO_CHUNK), source) for j in range(-(-count // PHOTO_CHUNK))]
    workers = workers or len(os.sched_getaffinity(0))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_write_photos, jobs):
            pass
    _mark_done(out)
    return out, source


def _photo_source() -> str:
    try:
        from digitcli.synth import realistic
    except ImportError:
        return "drawn by bench/inputs.py with Pillow (digitcli.synth.realistic not found)"
    try:
        if "photo_size" in inspect.signature(realistic.generate).parameters:
            return f"digitcli.synth.realistic.generate({PHOTO_CHUNK}, seed=j, photo_size=(1200, 900)) for chunks j = 0, 1, …"
    except (AttributeError, TypeError, ValueError):
        pass
    return "drawn by bench/inputs.py with Pillow (digitcli.synth.realistic has no generate(…, photo_size=…))"


def _write_photos(job) -> None:
    out, chunk, n, source = job
    first = chunk * PHOTO_CHUNK
    if source.startswith("digitcli.synth.realistic"):
        from digitcli.synth import realistic

        for i, sample in enumerate(realistic.generate(n, chunk, photo_size=PHOTO_SIZE)):
            extension = getattr(sample, "extension", "jpg")
            (out / f"{first + i:05d}_{sample.label}.{extension}").write_bytes(sample.encode())
    else:
        for i in range(n):
            label = i % 10
            image = _draw_photo(label, np.random.default_rng([chunk, i]))
            image.save(out / f"{first + i:05d}_{label}.jpg", quality=85)


def _font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _draw_photo(label: int, rng: np.random.Generator) -> Image.Image:
    """Fallback picture: a dark, thick digit on light, unevenly lit, noisy paper."""
    width, height = PHOTO_SIZE
    digit = Image.new("L", (width, height), 0)
    size = int(rng.integers(250, 600))
    x = int(rng.integers(width // 5, width - width // 5 - size // 2))
    y = int(rng.integers(height // 8, max(height // 8 + 1, height - size - height // 8)))
    ImageDraw.Draw(digit).text((x, y), str(label), fill=255, font=_font(size),
                               stroke_width=int(rng.integers(2, 12)), stroke_fill=255)
    digit = digit.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BICUBIC)
    digit = digit.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    paper = rng.uniform(0.75, 0.95) + rng.uniform(-0.12, 0.12) * xx + rng.uniform(-0.12, 0.12) * yy
    ink = rng.uniform(0.05, 0.3)
    coverage = np.asarray(digit, dtype=np.float32) / 255
    gray = paper * (1 - coverage) + ink * coverage
    tint = rng.uniform(0.9, 1.0, size=3)
    rgb = gray[..., None] * tint + rng.normal(0, rng.uniform(0.01, 0.04), size=(height, width, 3))
    return Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


# ---------------------------------------------------------------------------- Keras model


def keras_model(digitcli: list[str], model: Path, out: Path, env: dict[str, str]) -> Path:
    """`digitcli export MODEL --out OUT.keras`, again whenever MODEL is newer than OUT."""
    if out.exists() and out.stat().st_mtime >= model.stat().st_mtime:
        return out
    tmp = out.with_name("tmp-" + out.name)
    result = subprocess.run([*digitcli, "export", str(model), "--out", str(tmp)], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"digitcli export failed with exit code {result.returncode}")
    os.replace(tmp, out)
    return out
