"""The synthetic picture generator: deterministic, balanced, every declared format is real."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from digitcli.synth import encode, fonts, realistic

REPO = Path(__file__).resolve().parent.parent
SMALL = (120, 90)  # small pictures keep these tests fast

# The Pillow mode each format condition promises (jpeg-low may also be grey).
MODES = {
    "png": {"RGB"},
    "png-gray": {"L"},
    "png-16bit": {"I;16"},
    "png-bilevel": {"1"},
    "png-rgba": {"RGBA"},
    "jpeg": {"RGB"},
    "jpeg-low": {"RGB", "L"},
    "jpeg-exif": {"RGB"},
    "jpeg-cmyk": {"CMYK"},
    "bmp": {"RGB"},
    "webp": {"RGB"},
    "tiff": {"RGB"},
    "tiff-cmyk": {"CMYK"},
    "gif": {"P"},
}


def sample(fmt: str, seed: int = 0, **force: str) -> realistic.Sample:
    """A small sample in the given format condition."""
    if fmt == "png-rgba":
        force = {"capture": "digital", "background": "transparent", **force}
    return realistic.make_sample(
        3, np.random.default_rng(seed), size=SMALL, force={"format": fmt, **force}
    )


def decode(s: realistic.Sample) -> Image.Image:
    """The sample as a reader sees it: encoded, then opened with Pillow."""
    image = Image.open(io.BytesIO(s.encode()))
    image.load()
    return image


def test_same_seed_gives_identical_files_and_different_seeds_differ():
    first = [s.encode() for s in realistic.generate(4, seed=11)]
    again = [s.encode() for s in realistic.generate(4, seed=11)]
    other = [s.encode() for s in realistic.generate(4, seed=12)]
    assert first == again
    assert all(a != b for a, b in zip(first, other))


def test_a_picture_does_not_depend_on_how_many_are_asked_for():
    few = [s.encode() for s in realistic.generate(2, seed=5)]
    more = [s.encode() for s in realistic.generate(3, seed=5)]
    assert few == more[:2]


def test_labels_cycle_through_all_digits():
    labels = [s.label for s in realistic.generate(30, seed=0, photo_size=(64, 48))]
    assert Counter(labels) == {d: 3 for d in range(10)}


@pytest.mark.parametrize("fmt", sorted(encode.FORMATS))
def test_every_format_opens_with_the_claimed_format_and_mode(fmt):
    s = sample(fmt)
    image = decode(s)
    assert s.conditions["format"] == fmt
    assert image.format == s.format == encode.FORMATS[fmt][0]
    assert image.mode in MODES[fmt]
    assert s.image.mode == image.mode


def test_sixteen_bit_png_uses_the_full_range():
    pixels = np.asarray(decode(sample("png-16bit")))
    assert pixels.dtype == np.uint16 and pixels.max() > 255


def test_transparent_png_has_a_transparent_background_and_solid_strokes():
    alpha = np.asarray(decode(sample("png-rgba")).getchannel("A"))
    assert (alpha == 0).mean() > 0.5
    assert alpha.max() > 200


@pytest.mark.parametrize("seed", range(3))
def test_exif_rotated_jpeg_shows_upright_in_a_viewer(seed):
    s = sample("jpeg-exif", seed=seed, capture="photo")
    image = decode(s)
    assert image.getexif()[0x0112] == s.exif_orientation in encode.EXIF_ORIENTATIONS
    upright = ImageOps.exif_transpose(image)
    assert upright.size == SMALL == s.upright().size
    difference = np.abs(np.asarray(upright, float) - np.asarray(s.upright(), float)).mean()
    assert difference < 6  # only JPEG's loss


def test_other_formats_carry_no_exif_orientation():
    s = sample("png")
    assert s.exif_orientation is None and 0x0112 not in decode(s).getexif()


def test_conditions_come_from_the_declared_tables():
    for s in realistic.generate(20, seed=3, photo_size=(64, 48)):
        c = s.conditions
        assert c["capture"] == "photo" and c["format"] == "jpeg"
        for key, table in realistic.BY_CAPTURE["photo"].items():
            assert c[key] in table or key == "format"
        for key, table in realistic.COMMON.items():
            assert c[key] in table or (key == "ink" and c[key] == "chalk")
        assert set(realistic.CSV_KEYS) <= set(c)


def test_kinds_can_be_restricted_and_are_checked():
    assert {
        s.conditions["kind"]
        for s in realistic.generate(4, seed=1, kinds=("font",), photo_size=(64, 48))
    } == {"font"}
    with pytest.raises(ValueError):
        next(realistic.generate(1, seed=1, kinds=("crayon",)))


def test_forced_conditions_hold_for_every_picture_and_the_rest_still_vary():
    samples = list(realistic.generate(12, seed=4, force={"background": "paper-on-desk", "capture": "photo"}))
    assert {(s.conditions["background"], s.conditions["capture"]) for s in samples} == {("paper-on-desk", "photo")}
    assert len({s.conditions["lighting"] for s in samples}) > 1


def test_write_dataset_makes_digit_folders_and_a_matching_labels_csv(tmp_path):
    csv_path = realistic.write_dataset(tmp_path, 12, seed=2)
    assert csv_path == tmp_path / "labels.csv"
    assert all((tmp_path / str(d)).is_dir() for d in range(10))
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12
    assert list(rows[0])[:2] == ["path", "label"] and set(realistic.CSV_KEYS) <= set(rows[0])
    on_disk = {p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*") if p.is_file()}
    assert on_disk == {r["path"] for r in rows}
    for r in rows:
        folder, name = r["path"].split("/")
        assert folder == r["label"]
        assert r["format"] in name and r["kind"] in name
        with Image.open(tmp_path / r["path"]) as image:
            assert image.format == encode.FORMATS[r["format"]][0]


def test_command_line_writes_photo_sized_jpegs(tmp_path, capsys):
    realistic.main([str(tmp_path), "--count", "3", "--seed", "4", "--photo-size", "160x120"])
    assert capsys.readouterr().out.strip() == str(tmp_path / "labels.csv")
    files = sorted(tmp_path.glob("*/*.jpg"))
    assert len(files) == 3
    assert all(Image.open(f).size == (160, 120) for f in files)


def test_sample_images_match_the_committed_list(tmp_path):
    written = realistic.write_samples(tmp_path)
    assert len(written) == len(realistic.SAMPLES) == 12
    assert sum(p.stat().st_size for p in written) < 1_000_000
    for path, (stem, label, _, _) in zip(written, realistic.SAMPLES):
        assert path.stem == stem and stem.startswith(f"{label}_")
    committed = {p.name for p in (REPO / "sample_images").glob("*") if p.suffix != ".md"}
    if committed:  # the repository's copies are these pictures, under these names
        assert committed == {p.name for p in written}


def test_pinned_fonts_keep_training_the_benchmarks_and_the_reserved_fonts_apart():
    rows = [line.split("\t") for line in fonts.MANIFEST.read_text().splitlines()[1:]]
    packages = {role: {r[1] for r in rows if r[0] == role} for role in ("training", "bench")}
    assert packages["training"] == set(fonts.TRAINING_PACKAGES)
    assert packages["bench"] == set(fonts.BENCH_PACKAGES)
    assert not packages["training"] & packages["bench"]
    assert not (packages["training"] | packages["bench"]) & set(fonts.RESERVED_PACKAGES)
    stems = {role: {Path(r[3]).stem for r in rows if r[0] == role} for role in ("training", "bench")}
    assert not stems["training"] & stems["bench"]  # no face in both under another package's name
    assert all(len(r) == 5 and len(r[4]) == 64 for r in rows)  # every file pinned by its hash


def test_a_missing_or_changed_font_stops_the_generators_with_one_clear_line(tmp_path, monkeypatch, capsys):
    changed = tmp_path / "changed.ttf"
    changed.write_bytes(b"not the pinned font")
    manifest = tmp_path / "fonts.tsv"
    manifest.write_text("role\tpackage\tversion\tpath\tsha256\n"
                        f"bench\tfonts-x\t1.0\t{changed}\t{'0' * 64}\n"
                        f"bench\tfonts-x\t1.0\t{tmp_path / 'gone.ttf'}\t{'0' * 64}\n")
    monkeypatch.setattr(fonts, "MANIFEST", manifest)
    fonts.pinned.cache_clear()
    try:
        with pytest.raises(fonts.FontsMissing, match=r"2 pinned font file\(s\) .* fonts-x 1.0; .*make fonts"):
            fonts.pinned("bench")
        with pytest.raises(SystemExit) as stop:
            realistic.main([str(tmp_path / "out"), "--count", "1"])
        assert stop.value.code == 4 and not (tmp_path / "out").exists()
        assert capsys.readouterr().err.count("\n") == 1
    finally:
        fonts.pinned.cache_clear()


def test_printed_digits_are_prepared_like_user_pictures_and_seeded(tmp_path):
    arrays = fonts.printed_dataset(20, seed=3)
    assert arrays["x_train"].shape == (20, 28, 28) and arrays["x_train"].dtype == np.uint8
    assert arrays["x_test"].shape == (2, 28, 28)
    assert list(arrays["y_train"]) == [i % 10 for i in range(20)]
    assert (arrays["x_train"].max(axis=(1, 2)) == 255).all()  # preprocessing's full ink
    assert np.array_equal(fonts.printed_dataset(20, seed=3)["x_train"], arrays["x_train"])

    out = tmp_path / "printed.npz"
    realistic.main([str(out), "--printed", "--count", "10", "--seed", "3"])
    from digitcli.training import data

    split = data.load_split(out, "train")
    assert np.array_equal(split.x, arrays["x_train"][:10].reshape(10, -1))


def test_printed_dataset_labels_stay_balanced_past_256(monkeypatch):
    monkeypatch.setattr(fonts, "printed_digit", lambda label, rng, fonts: np.full((28, 28), label))
    arrays = fonts.printed_dataset(600, seed=0)
    assert np.array_equal(arrays["x_train"][:, 0, 0], arrays["y_train"])
    assert np.bincount(arrays["y_train"]).tolist() == [60] * 10


def test_pinning_a_package_that_is_not_installed_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(fonts, "BENCH_PACKAGES", ("fonts-not-a-real-package",))
    with pytest.raises(fonts.FontsMissing, match="fonts-not-a-real-package .*make fonts"):
        fonts.pin()
