"""Shared fixtures: tests never touch the real home folder, the real models/ or a user's env."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from digitcli.network import store
from digitcli.network.infer import Layer, Network

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """A private HOME and working folder; no DIGITCLI_MODEL from the user's shell."""
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("work")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DIGITCLI_MODEL", raising=False)
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def mnist_dir() -> Path:
    """The folder of real MNIST IDX files named by DIGITCLI_DATA (CI sets it)."""
    value = os.environ.get("DIGITCLI_DATA")
    if not value:
        pytest.skip("DIGITCLI_DATA is not set: point it at the MNIST IDX files to run this test")
    return Path(value)


@pytest.fixture
def fifo():
    """Make named pipes (`fifo(path)`). A reader stuck on one is released after 3 s (so a test of
    code that would wait for ever fails instead of hanging the suite), and the test then fails."""
    made: list[Path] = []
    released: list[Path] = []
    done = threading.Event()

    def release():
        while not done.wait(0.2):
            for path in made:
                try:  # succeeds only while a reader waits; closing gives it end-of-file
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                    released.append(path)
                except OSError:
                    pass

    def make(path: Path) -> Path:
        os.mkfifo(path)
        made.append(path)
        return path

    timer = threading.Timer(3.0, release)
    timer.daemon = True
    timer.start()
    yield make
    done.set()
    timer.cancel()
    assert not released, f"the code under test waited to read {released[0]}"


def random_network(hidden=(16, 8), seed=0) -> Network:
    """A small network with random weights: enough to test the plumbing without training."""
    rng = np.random.default_rng(seed)
    sizes = (784, *hidden, 10)
    layers = tuple(
        Layer(
            rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)).astype(np.float32),
            rng.normal(0, 0.1, n_out).astype(np.float32),
            "relu" if i < len(hidden) else "linear",
        )
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]))
    )
    return Network(layers, metadata={"note": "random test network"})


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    path = tmp_path / "tiny.npz"
    store.save(random_network(), path)
    return path


def digit_image(digit: int = 7, size: int = 200, ink: int = 0, paper: int = 255):
    """A hand-drawn-looking digit as a Pillow L image (dark ink on light paper by default)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    s = size / 100
    width = max(2, int(8 * s))
    strokes = {
        0: [("ellipse", (30, 15, 70, 85))],
        1: [("line", (50, 15, 50, 85)), ("line", (40, 25, 50, 15))],
        7: [("line", (28, 20, 72, 20)), ("line", (72, 20, 42, 85))],
    }[digit]
    for kind, box in strokes:
        box = tuple(v * s for v in box)
        if kind == "ellipse":
            draw.ellipse(box, outline=ink, width=width)
        else:
            draw.line(box, fill=ink, width=width)
    return image
