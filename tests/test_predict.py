"""Batch prediction logic: which inputs, in which order, and the same answers however it runs."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from digitcli import predict as predict_module
from digitcli.errors import DigitcliError, ExitCode
from digitcli.inputs import collect, read_stdin_lines
from digitcli.predict import predict
from tests.conftest import digit_image, random_network


def _folder(tmp_path, n=150):
    folder = tmp_path / "many"
    (folder / "deep").mkdir(parents=True)
    for i in range(n):
        target = folder / "deep" if i % 3 == 0 else folder
        digit_image((0, 1, 7)[i % 3], size=40 + i).save(target / f"img{i:03d}.png")
    (folder / "blank.png").write_bytes(b"")
    return folder


def test_collect_sorts_dedupes_and_reports_missing(tmp_path):
    folder = _folder(tmp_path, n=6)
    items = collect([str(folder), str(folder / "img001.png"), "missing.png"], recursive=True)
    paths = [i.path for i in items]
    assert paths == sorted(paths) and len(paths) == len(set(paths))
    assert [i.error for i in items if i.path == "missing.png"] == ["no such file or folder"]
    assert sum(1 for p in paths if "/deep/" in p) == 2


def test_an_empty_folder_advises_recursive_only_when_it_has_subfolders(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "notes.txt").write_text("no pictures")
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (flat,) = collect([str(tmp_path / "flat")], recursive=False)
    (nested,) = collect([str(tmp_path / "nested")], recursive=False)
    assert flat.error.startswith("no images found in this folder") and "--recursive" not in flat.error
    assert nested.error.endswith("; add --recursive to look in subfolders)")


def test_stdin_paths_may_be_nul_separated():
    assert read_stdin_lines(_Stream("a.png\0b.png\0")) == ["a.png", "b.png", ""]


class _Stream:
    def __init__(self, text):
        self.text = text

    def read(self):
        return self.text


def test_parallel_and_serial_prediction_give_identical_records(tmp_path):
    items = collect([str(_folder(tmp_path))], recursive=True)
    network = random_network()
    serial = [p.as_record(3) for p in predict(items, network, workers=1)]
    parallel = [p.as_record(3) for p in predict(items, network, workers=2)]
    assert len(serial) == 151
    assert parallel == serial
    assert [r["status"] for r in serial].count("error") == 1


def test_saved_inputs_are_the_28x28_the_network_saw(tmp_path):
    items = collect([str(_folder(tmp_path, n=3))], recursive=True)
    out = tmp_path / "seen"
    results = list(predict(items, random_network(), save_dir=out))
    saved = sorted(out.iterdir())
    assert len(saved) == sum(r.status == "ok" for r in results)
    from PIL import Image

    assert all(np.asarray(Image.open(p)).shape == (28, 28) for p in saved)


def test_shards_partition_the_sorted_inputs_into_equal_slices(tmp_path):
    from digitcli.inputs import Item, shard

    for count in (12, 1003, 3):
        items = [Item(f"p{i:05d}") for i in range(count)]
        for n in (1, 2, 3, 4, 7, 16, 200):
            parts = [shard(items, k, n) for k in range(1, n + 1)]
            assert [item for part in parts for item in part] == items  # in order, nothing twice
            sizes = [len(part) for part in parts]
            assert max(sizes) - min(sizes) <= 1
    assert [len(shard([Item(str(i)) for i in range(12)], k, 4)) for k in (1, 2, 3, 4)] == [3] * 4


def test_batch_loading_matches_one_by_one(tmp_path):
    """load_digits tests many 28×28 pictures at once; each outcome must equal load_digit's."""
    from PIL import Image

    from digitcli.errors import DigitcliError
    from digitcli.vision.preprocess import load_digit, load_digits

    mnist_like = np.zeros((28, 28), np.uint8)
    mnist_like[4:24, 11:17] = 255  # a bar 20 px tall, centred: passes through unchanged
    off_centre = np.zeros((28, 28), np.uint8)
    off_centre[0:10, 0:4] = 255  # must be re-centred, so not passed through
    paths = []
    for name, pixels in (("a.png", mnist_like), ("b.png", off_centre), ("c.png", 255 - mnist_like)):
        Image.fromarray(pixels).save(tmp_path / name)
        paths.append(tmp_path / name)
    digit_image(7, size=90).save(tmp_path / "d.png")
    (tmp_path / "e.png").write_bytes(b"not an image")
    Image.new("L", (28, 28), 0).save(tmp_path / "f.png")  # blank: no digit
    paths += [tmp_path / "d.png", tmp_path / "e.png", tmp_path / "f.png"]

    batch = load_digits(paths)
    assert np.array_equal(batch[0], mnist_like)
    assert not np.array_equal(batch[1], off_centre)
    for path, outcome in zip(paths, batch):
        try:
            alone = load_digit(path)
        except DigitcliError as err:
            assert type(outcome) is type(err) and str(outcome) == str(err)
        else:
            assert np.array_equal(outcome, alone)
    assert [isinstance(o, DigitcliError) for o in batch] == [False] * 4 + [True] * 2


def test_batch_loading_holds_one_large_picture_at_a_time(tmp_path):
    """A chunk of photos must not be decoded all at once (64 photos of 12 Mpx would need 3 GB)."""
    import tracemalloc

    from digitcli.vision.preprocess import load_digits

    paths = []
    for i in range(6):
        digit_image(7, size=1000).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    one_picture = 1000 * 1000 * 4  # float32 luminance
    tracemalloc.start()
    try:
        outcomes = load_digits(paths)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(o.shape == (28, 28) for o in outcomes)
    assert peak < 4 * one_picture  # one picture and its working copies, not six pictures


def test_a_worker_that_dies_ends_the_batch_with_an_error_not_a_hang(tmp_path, monkeypatch):
    """A worker killed mid-batch (the kernel's out-of-memory killer, say) must not leave predict
    waiting for ever: a cron job would hang. It ends with a one-line error and exit code 1."""
    items = collect([str(_folder(tmp_path))], recursive=True)

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(predict_module, "load_chunk", killed)  # workers are forked: they inherit it
    with pytest.raises(DigitcliError, match="worker process died") as caught:
        list(predict(items, random_network(), workers=2))
    assert caught.value.exit_code == ExitCode.INTERNAL
