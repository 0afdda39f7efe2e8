"""bench/real.py: the real yardsticks are read, converted and scored as documented (no network)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from bench import real

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAS_SUDOKU = real.SUDOKU_FILE.is_file() or real.SUDOKU_FILE.with_name(real.SUDOKU_FILE.name + ".gz").is_file()


def _png(array: np.ndarray) -> bytes:
    return real.png_bytes(array.astype(np.uint8))


def test_uci_digit_becomes_dark_ink_on_paper_with_a_margin():
    counts = np.zeros((8, 8))
    counts[1:7, 3:5] = 16  # a bar of full ink
    picture = real.uci_picture(counts)
    assert picture.shape == (64, 64) and picture.dtype == np.uint8
    # 4 cells of margin at 4x: the outer 16 pixels are paper (bicubic may ring by a level or two)
    assert picture[:12].min() >= 250 and picture[-12:].min() >= 250
    assert picture[:, :12].min() >= 250 and picture[:, -12:].min() >= 250
    assert picture[32, 32] < 40  # the ink is dark
    assert np.median(picture) == 255  # on light paper


def test_uci_tight_crop_touches_the_edges():
    counts = np.zeros((8, 8))
    counts[:, 0] = 16  # ink in the first column
    picture = real.uci_picture(counts, margin=0)
    assert picture.shape == (64, 64)
    assert picture[:, 0].max() < 40  # the ink reaches the picture's left edge
    assert picture[:, -1].min() > 200


def test_uci_picture_rejects_other_shapes():
    with pytest.raises(ValueError, match="8x8"):
        real.uci_picture(np.zeros((28, 28)))


def _records(*rows):
    return [json.loads(json.dumps({"path": f"some/dir/{name}", "status": status, "digit": digit,
                                   "confidence": None if digit is None else 0.9}))
            for name, status, digit in rows]


def test_scoring_counts_right_unsure_ok_and_confusions():
    labels = {"a.png": 1, "b.png": 2, "c.png": 3, "d.png": 4, "e.png": 3}
    records = _records(("a.png", "ok", 1), ("b.png", "unsure", 2), ("c.png", "ok", 5),
                       ("d.png", "error", None), ("e.png", "unsure", 5))
    score = real.score(records, labels)
    assert (score.count, score.right, score.unsure, score.no_digit) == (5, 2, 2, 1)
    assert (score.ok, score.ok_right) == (2, 1)
    assert score.confusions == {(3, 5): 2, (4, None): 1}
    row = score.row("set")
    assert row[2] == "40.0% (2/5)" and row[3] == "40.0% (2/5)" and row[4] == "50.0% (1/2)"
    assert row[6] == "3→5 ×2, 4→none ×1"


def test_scoring_stops_when_a_picture_has_no_record():
    with pytest.raises(RuntimeError, match="no record for 1"):
        real.score(_records(("a.png", "ok", 1)), {"a.png": 1, "b.png": 2})


def test_markdown_table_has_a_header_and_a_row_per_set():
    table = real.markdown_table([real.score(_records(("a.png", "ok", 7)), {"a.png": 7}).row("x", 1.0)])
    lines = table.splitlines()
    assert len(lines) == 3 and lines[0].startswith("| set |") and lines[2].startswith("| x | 1 | 100.0% (1/1)")


def test_sudoku_labels_are_26_valid_givens():
    givens = real.SUDOKU_GIVENS
    assert len(givens) == 26
    assert all(0 <= r < 9 and 0 <= c < 9 and 1 <= d <= 9 for (r, c), d in givens.items())
    # givens of a sudoku never repeat a digit in a row, a column or a box: a typo would
    for key in (lambda r, c: r, lambda r, c: c, lambda r, c: (r // 3, c // 3)):
        seen = {}
        for (r, c), d in givens.items():
            assert (key(r, c), d) not in seen, f"{d} twice at {seen.get((key(r, c), d))} and {(r, c)}"
            seen[(key(r, c), d)] = (r, c)


def test_sudoku_crossings_form_a_grid():
    crossings = np.array(real.SUDOKU_CROSSINGS)
    assert crossings.shape == (4, 4, 2)
    assert (np.diff(crossings[:, :, 0], axis=1) > 100).all()  # x grows along a row
    assert (np.diff(crossings[:, :, 1], axis=0) > 100).all()  # y grows down a column


def test_drawn_digits_are_read_out_of_the_archive(tmp_path):
    archive = tmp_path / "pyclustering.tar.gz"
    drawing = _png(np.full((32, 32, 3), 255))
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [("p/pyclustering/samples/images/digits/Digit_3_Sample07.png", drawing),
                           ("p/pyclustering/samples/images/digits/readme.txt", b"x"),
                           ("p/pyclustering/samples/images/other/Digit_4_Sample01.png", drawing)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    pictures = real.drawn_pictures(archive)
    assert [(p.name, p.label, p.png) for p in pictures] == [("3_07.png", 3, drawing)]


def test_drawn_archive_of_another_package_is_refused(tmp_path):
    (tmp_path / real.PYCLUSTERING_SDIST).write_bytes(b"not it")
    with pytest.raises(real.Unavailable, match="not the pyclustering 0.10.1.2 sdist"):
        real.pyclustering_sdist(tmp_path)


def test_upscaled_drawing_is_three_times_larger_on_white():
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)  # fully transparent black
    rgba[8:24, 15:17] = (0, 0, 0, 255)  # an opaque black stroke
    big = real.upscaled(real.Picture("1_01.png", 1, _png(rgba)))
    image = np.asarray(Image.open(io.BytesIO(big.png)).convert("L"))
    assert image.shape == (96, 96) and image[0, 0] == 255 and image[48, 48] < 40
    assert (big.name, big.label) == ("1_01.png", 1)


def test_sudoku_photo_gzipped_is_read_and_checked(tmp_path, monkeypatch):
    data = _png(np.full((20, 30, 3), 200))
    path = tmp_path / "sudoku.png.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(real.Unavailable, match="not the photo the grid was measured on"):
        real.sudoku_photo(path)
    import hashlib
    monkeypatch.setattr(real, "SUDOKU_SHA256", hashlib.sha256(data).hexdigest())
    assert real.sudoku_photo(path).shape == (20, 30, 3)


def test_a_set_that_cannot_be_obtained_stops_with_one_line(tmp_path, capsys):
    assert real.main(["--sets", "sudoku", "--sudoku", str(tmp_path / "none.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sudoku:" in err and "opencv-doc" in err


def test_unknown_set_is_a_usage_error():
    with pytest.raises(SystemExit) as stopped:
        real.main(["--sets", "uci,mnist"])
    assert stopped.value.code == 2


@pytest.mark.skipif(not HAS_SUDOKU, reason="opencv-doc is not installed (apt-get install opencv-doc)")
def test_sudoku_cells_are_cut_from_the_photo():
    cells = real.sudoku_cells(real.sudoku_photo())
    assert len(cells) == 26 and len({c.name for c in cells}) == 26
    side = real.CELL - 2 * real.CELL_INSET
    for cell in cells:
        gray = np.asarray(Image.open(io.BytesIO(cell.png)).convert("L")).astype(float)
        assert gray.shape == (side, side)
        # printed ink in the middle, darker than the paper at the cell's edges (no grid line there)
        edges = np.concatenate([gray[:2].ravel(), gray[-2:].ravel(), gray[:, :2].ravel(), gray[:, -2:].ravel()])
        assert gray[side // 4:-side // 4, side // 4:-side // 4].min() < np.median(edges) - 40
        assert np.percentile(edges, 10) > np.median(edges) - 40, cell.name


@pytest.mark.skipif(not HAS_SUDOKU, reason="opencv-doc is not installed (apt-get install opencv-doc)")
def test_sudoku_set_runs_through_digitcli_predict(tmp_path):
    cells = real.sudoku_cells(real.sudoku_photo())
    for cell in cells:
        (tmp_path / cell.name).write_bytes(cell.png)
    records = real.predict_records(tmp_path, None)
    score = real.score(records, {c.name: c.label for c in cells})
    assert score.count == 26 and score.right + len(score.wrong) == 26


@pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn is not installed (pip install -e '.[bench]')")
def test_uci_sets_hold_every_digit_twice():
    sets = real.uci_sets()
    assert list(sets) == ["uci", "uci, tight crop"]
    for pictures in sets.values():
        assert len(pictures) == 1797 and {p.label for p in pictures} == set(range(10))
    first = np.asarray(Image.open(io.BytesIO(sets["uci"][0].png)))
    assert first.shape == (64, 64) and first[0, 0] == 255


def test_out_file_keeps_the_notes_below_the_notes_heading(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(real, "obtain", lambda name, args: {})  # no set: only the table's header
    out = tmp_path / "REAL.md"
    out.write_text("# old table\n| stale |\n\n## Notes\n\nwritten by hand\n")
    assert real.main(["--sets", "sudoku", "--out", str(out)]) == 0
    text = out.read_text()
    assert "stale" not in text and text.startswith("# digitcli on real pictures")
    assert text.endswith("## Notes\n\nwritten by hand\n") and "| set | pictures |" in text
