"""MNIST-faithful preprocessing: any picture of a digit → the 28×28 white-on-black input MNIST had."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitcli.synth import realistic
from digitcli.errors import NoDigitError, UsageError
from digitcli.vision.find import locate_ink
from digitcli.vision.frame import digit_input
from digitcli.vision.preprocess import load_digit, to_mnist
from tests.conftest import digit_image
from tests.test_images import LOSSLESS, LOSSY, save_variant


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def shifted_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Best correlation over 1-px shifts: placing by rounded centre of mass may differ by a pixel."""
    return max(correlation(np.roll(a, (dy, dx), axis=(0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(x.shape)
    return float((rows * x).sum() / x.sum()), float((cols * x).sum() / x.sum())


def assert_mnist_like(x: np.ndarray) -> None:
    """The output contract: 28×28 uint8, black background, saturated strokes, 20-px box, centred by mass."""
    assert x.shape == (28, 28) and x.dtype == np.uint8
    assert x.max() >= 250
    assert np.median(x) == 0
    rows, cols = np.nonzero(x > 0)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 22  # 20 px plus anti-aliased edges
    row, col = centre_of_mass(x.astype(float))
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


@pytest.fixture
def seven() -> Image.Image:
    return digit_image(7, size=200)


@pytest.fixture
def seven_28(seven) -> np.ndarray:
    return to_mnist(np.asarray(seven))


def test_digit_becomes_mnist_like(seven_28):
    assert_mnist_like(seven_28)


@pytest.mark.parametrize("name", (*LOSSLESS, *LOSSY))
def test_every_format_and_mode_gives_the_same_28x28(tmp_path, seven, seven_28, name):
    x = load_digit(save_variant(seven, tmp_path, name))
    assert np.abs(x.astype(int) - seven_28).mean() < 8
    assert correlation(x, seven_28) > 0.95


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_polarity_does_not_matter(digit):
    dark_on_light = to_mnist(np.asarray(digit_image(digit, size=150)))
    light_on_dark = to_mnist(np.asarray(digit_image(digit, size=150, ink=255, paper=0)))
    chalk_on_green = to_mnist(np.asarray(digit_image(digit, size=150, ink=220, paper=70)))
    assert correlation(dark_on_light, light_on_dark) > 0.97
    assert correlation(dark_on_light, chalk_on_green) > 0.97


def photo_with_small_digit(digit: Image.Image, seed: int = 0) -> np.ndarray:
    """An 800×600 'photo': the digit small and off-centre, uneven light, sensor noise, a few specks."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("L", (800, 600), 255)
    canvas.paste(digit.resize((90, 90), Image.Resampling.LANCZOS), (560, 110))
    draw = ImageDraw.Draw(canvas)
    for x, y, r in [(80, 500, 3), (300, 60, 2), (700, 540, 4), (150, 200, 2)]:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=20)
    light = np.linspace(1.0, 0.55, 800)[None, :] * np.linspace(0.9, 1.0, 600)[:, None]
    photo = np.asarray(canvas, dtype=np.float32) / 255 * 0.8 * light
    return np.clip(photo + rng.normal(0, 0.03, photo.shape), 0, 1).astype(np.float32)


def test_small_off_centre_digit_in_noisy_photo_is_found(seven):
    clean = to_mnist(np.asarray(seven.resize((90, 90), Image.Resampling.LANCZOS)))
    found = to_mnist(photo_with_small_digit(seven))
    assert correlation(found, clean) > 0.8
    assert_mnist_like(found)


def test_digit_in_jpeg_photo_file(tmp_path, seven):
    path = tmp_path / "photo.jpg"
    Image.fromarray((photo_with_small_digit(seven, seed=1) * 255).astype(np.uint8)).save(path, quality=80)
    clean = to_mnist(np.asarray(seven.resize((90, 90), Image.Resampling.LANCZOS)))
    assert correlation(load_digit(path), clean) > 0.8


def test_digit_cropped_to_the_edges_is_kept(seven_28):
    array = np.asarray(digit_image(0, size=200))
    rows, cols = np.nonzero(array < 128)
    tight = array[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]  # touches all four sides
    x = to_mnist(tight)
    assert_mnist_like(x)
    assert shifted_correlation(x, to_mnist(array)) > 0.95


def test_sheet_of_paper_on_a_dark_desk(seven, seven_28):
    """Paper covering less than half the photo: the desk must not be taken for the paper."""
    desk = np.full((600, 800), 0.25, np.float32)
    sheet = np.asarray(seven.resize((260, 260)), np.float32) / 255 * 0.9
    desk[170:430, 270:530] = sheet  # the sheet is 14 % of the picture
    x = to_mnist(desk + np.random.default_rng(0).normal(0, 0.02, desk.shape).astype(np.float32))
    assert correlation(x, seven_28) > 0.85


def test_hard_shadow_across_the_page(seven, seven_28):
    page = np.asarray(seven.resize((300, 300)), np.float32) / 255
    canvas = np.ones((600, 800), np.float32)
    canvas[150:450, 250:550] = page
    shadow = np.where(np.arange(800)[None, :] + 0.5 * np.arange(600)[:, None] < 420, 0.45, 1.0)
    x = to_mnist(canvas * shadow * 0.9)
    # The same as without the shadow; placing by rounded centre of mass may differ by a pixel
    # from the digit drawn at another size.
    assert correlation(x, to_mnist(canvas * 0.9)) > 0.95
    assert shifted_correlation(x, seven_28) > 0.9


def test_lit_patch_beside_a_shadow_is_not_taken_for_light_ink(seven, seven_28):
    """Light paper, a brightly lit wedge and a dark digit in the dimmer part: the digit is the ink."""
    canvas = np.full((600, 800), 0.62, np.float32)
    canvas[150:350, 80:280] = np.asarray(seven.resize((200, 200)), np.float32) / 255 * 0.62
    lit = np.arange(800)[None, :] - 1.2 * np.arange(600)[:, None] > 380
    x = to_mnist(np.where(lit, 0.98, canvas))
    assert correlation(x, seven_28) > 0.85


def picture_with(seven: Image.Image, clutter) -> tuple[np.ndarray, np.ndarray]:
    """A page with a small 7, without and with something drawn on it by `clutter(draw)`."""
    canvas = Image.new("L", (800, 600), 255)
    canvas.paste(seven.resize((120, 120)), (340, 150))
    clean = np.asarray(canvas)
    clutter(ImageDraw.Draw(canvas))
    return clean, np.asarray(canvas)


def test_outline_of_a_sheet_around_the_digit_is_not_the_digit(seven):
    clean, framed = picture_with(seven, lambda draw: draw.rectangle((150, 40, 650, 520), outline=40, width=3))
    assert correlation(to_mnist(framed), to_mnist(clean)) > 0.95


def test_ruled_line_across_the_page_is_not_the_digit(seven):
    clean, ruled = picture_with(seven, lambda draw: draw.line([(0, 450), (799, 450)], fill=30, width=4))
    assert correlation(to_mnist(ruled), to_mnist(clean)) > 0.95


def test_bold_strokes_are_thinned_like_mnist():
    from digitcli.vision.ops import stroke_width

    bold = Image.new("L", (600, 600), 255)
    ImageDraw.Draw(bold).line([(120, 100), (480, 100), (260, 520)], fill=0, width=150)  # ~6 px at 28×28
    x = to_mnist(np.asarray(bold))
    assert stroke_width(x >= 128) <= 3.6  # MNIST: 1.8 median, 2.9 for the widest 5 %
    assert_mnist_like(x)


@pytest.mark.parametrize("size", [3, 7, 10])
def test_dilate_and_erode_are_a_square_maximum_and_minimum(size):
    """OpenCV's dilation and erosion are exactly the centred square maxima and minima the hand-written
    ones were, the picture's edge repeated (negative values included: residuals are)."""
    from digitcli.vision.ops import dilate, erode

    values = np.random.default_rng(size).random((23, 31)).astype(np.float32) - 0.5
    r = size // 2
    padded = np.pad(values, ((r, size - 1 - r), (r, size - 1 - r)), mode="edge")
    windows = [[padded[i : i + size, j : j + size] for j in range(31)] for i in range(23)]
    np.testing.assert_array_equal(dilate(values, size), np.array([[w.max() for w in row] for row in windows]))
    np.testing.assert_array_equal(erode(values, size), np.array([[w.min() for w in row] for row in windows]))
    mask = values > 0.3
    grown = dilate(mask, size)
    assert grown.dtype == bool
    np.testing.assert_array_equal(grown, dilate(mask.astype(np.float32), size) > 0)


@pytest.mark.parametrize("shape, factor", [((24, 36), 4), ((23, 31), 3), ((5, 7), 8), ((9, 9), 1)])
def test_shrink_and_pool_combine_whole_blocks_edge_repeated(shape, factor):
    """Block means (INTER_AREA), maxima and minima; a partial edge block has its last row/column repeated."""
    import cv2

    from digitcli.vision.ops import pool_blocks, shrink

    values = np.random.default_rng(factor).random(shape).astype(np.float32) - 0.5
    h, w = shape
    padded = np.pad(values, ((0, -h % factor), (0, -w % factor)), mode="edge")
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    np.testing.assert_allclose(shrink(values, factor), blocks.mean(axis=(1, 3)), atol=1e-6)
    np.testing.assert_array_equal(pool_blocks(values, factor, cv2.dilate), blocks.max(axis=(1, 3)))
    np.testing.assert_array_equal(pool_blocks(values, factor, cv2.erode), blocks.min(axis=(1, 3)))
    mask = values > 0.3
    np.testing.assert_array_equal(pool_blocks(mask, factor, cv2.dilate), blocks.max(axis=(1, 3)) > 0.3)


def test_bbox_of_a_mask():
    from digitcli.vision.ops import bbox

    mask = np.zeros((9, 12), bool)
    assert bbox(mask) is None
    mask[2, 3] = mask[6, 10] = True
    assert bbox(mask) == (2, 7, 3, 11)  # end-exclusive
    narrow = np.zeros((9, 2), bool)  # two columns: still a picture to OpenCV, not a list of points
    narrow[3:5, 1] = True
    assert bbox(narrow) == (3, 5, 1, 2)


def test_grow_rows_reaches_up_and_down_only():
    from digitcli.vision.components import grow_rows

    mask = np.zeros((9, 5), bool)
    mask[4, 2] = True
    expected = np.zeros_like(mask)
    expected[2:7, 2] = True
    np.testing.assert_array_equal(grow_rows(mask, 2), expected)


def test_thin_pen_in_a_big_picture_is_thickened_like_mnist():
    thick = digit_image(7, size=100)  # strokes 8 px in a 100-px picture: MNIST-like when scaled
    big = Image.new("L", (1000, 1000), 255)
    draw = ImageDraw.Draw(big)
    draw.line([(280, 200), (720, 200), (420, 850)], fill=0, width=4)  # a 4 px pen line, 1000 px digit
    x, reference = to_mnist(np.asarray(big)), to_mnist(np.asarray(thick))
    # Without thickening the 4-px line would be 0.1 px wide at 28×28: a faint trace.
    assert np.count_nonzero(x >= 128) > 0.6 * np.count_nonzero(reference >= 128)
    assert_mnist_like(x)


@pytest.mark.parametrize(
    "picture",
    [
        np.ones((300, 400), np.float32),
        np.zeros((300, 400), np.float32),
        np.full((300, 400), 0.6, np.float32),
        np.clip(0.7 + np.random.default_rng(1).normal(0, 0.02, (300, 400)), 0, 1).astype(np.float32),
        np.linspace(0.3, 0.9, 400, dtype=np.float32)[None, :].repeat(300, axis=0),
    ],
    ids=["white", "black", "grey", "faint-noise", "gradient"],
)
def test_blank_pictures_have_no_digit(picture):
    with pytest.raises(NoDigitError, match="no digit found"):
        to_mnist(picture)


def test_blank_file_error_names_the_file(tmp_path):
    path = tmp_path / "blank.jpg"
    noise = np.random.default_rng(2).normal(200, 3, (240, 320))
    Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(path, quality=70)
    expected = r"blank\.jpg: no digit found \(the picture is blank or has too little contrast\)"
    with pytest.raises(NoDigitError, match=expected):
        load_digit(path)


def test_mode_none_only_resizes_and_keeps_polarity(seven):
    array = np.asarray(seven)
    x = to_mnist(array, mode="none")
    assert x.shape == (28, 28) and x.dtype == np.uint8
    assert x[0, 0] == 255  # still dark ink on white: nothing inverted or cropped
    same = np.asarray(seven.resize((28, 28)))
    np.testing.assert_array_equal(to_mnist(same, mode="none"), same)


def test_unknown_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="auto, none"):
        to_mnist(np.zeros((28, 28), np.float32), mode="magic")


def test_already_normalised_input_passes_through_unchanged(seven_28):
    np.testing.assert_array_equal(to_mnist(seven_28), seven_28)
    np.testing.assert_array_equal(to_mnist(seven_28.astype(np.float32) / 255), seven_28)


def read_idx(path, header: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def test_mnist_test_images_pass_through_identically(mnist_dir, tmp_path):
    """Accuracy read from IDX arrays or from PNG files through this pipeline must be the same."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)[:500]
    for i, image in enumerate(images):
        np.testing.assert_array_equal(to_mnist(image), image)
        np.testing.assert_array_equal(to_mnist(image.astype(np.float32) / 255), image)
        path = tmp_path / f"{i:03d}.png"
        Image.fromarray(image).save(path)
        np.testing.assert_array_equal(load_digit(path), image, err_msg=f"MNIST test image {i}")


def flood_fill_count(mask: np.ndarray) -> int:
    """Reference: count 8-connected components with a plain breadth-first search."""
    seen = np.zeros_like(mask, bool)
    count = 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        queue = [start]
        seen[start] = True
        while queue:
            r, c = queue.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    y, x = r + dr, c + dc
                    if 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and mask[y, x] and not seen[y, x]:
                        seen[y, x] = True
                        queue.append((y, x))
    return count


@pytest.mark.parametrize("density", [0.2, 0.45, 0.6])
def test_component_labelling_matches_a_flood_fill(density):
    from digitcli.vision.components import labelled, paint
    from digitcli.vision.ops import bbox

    rng = np.random.default_rng(int(density * 100))
    for _ in range(20):
        mask = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < density
        labels = labelled(mask)
        assert labels.count == flood_fill_count(mask)
        firsts = []
        for label in range(labels.count):  # every component is connected: one flood fill each
            part = paint(labels, np.arange(labels.count) == label)
            assert flood_fill_count(part) == 1
            assert labels.area[label] == np.count_nonzero(part)
            top, bottom, left, right = bbox(part)
            assert (labels.top[label], labels.bottom[label], labels.left[label], labels.right[label]) == (
                top, bottom, left, right)
            firsts.append(np.flatnonzero(part)[0])
        assert firsts == sorted(firsts)  # numbered in raster order: ties go to the topmost, then leftmost


@pytest.mark.parametrize("dark_share", [0.1, 0.5, 0.8])
def test_otsu_separates_a_dark_and_a_light_class(dark_share):
    from digitcli.vision.ops import otsu

    rng = np.random.default_rng(3)
    light = rng.random((60, 80)) >= dark_share
    values = np.where(light, 0.75, 0.3) + rng.normal(0, 0.04, light.shape).astype(np.float32)
    np.testing.assert_array_equal(values > otsu(values), light)


def test_fill_holes_fills_enclosed_gaps_only():
    """A closed ring's inside is filled; a gap reaching the edge, even only diagonally, is not."""
    from digitcli.vision.ops import fill_holes

    mask = np.zeros((7, 14), bool)
    mask[1:6, 1:6] = True
    mask[2:5, 2:5] = False  # a closed ring: its inside is a hole
    mask[0:5, 8:13] = True
    mask[1:4, 9:12] = False
    mask[0, 8] = False  # the inside touches the picture's edge through a corner: not a hole
    filled = fill_holes(mask)
    assert filled[1:6, 1:6].all()
    np.testing.assert_array_equal(filled[:, 7:], mask[:, 7:])


def test_components_join_diagonal_neighbours():
    from digitcli.vision.components import labelled

    mask = np.zeros((6, 6), bool)
    mask[[0, 1, 2], [0, 1, 2]] = True  # a diagonal: one component (8-connected)
    mask[[0, 1], [5, 4]] = True  # another diagonal, apart from the first
    mask[5, 0] = True
    labels = labelled(mask)
    assert labels.count == 3
    assert list(labels.area) == [3, 2, 1]


def test_shadowed_corner_darker_than_the_ink_is_not_the_digit(seven, seven_28):
    """A hard-edged shadow over a corner, darker than the grey strokes: a step, not strokes."""
    canvas = np.full((400, 400), 0.85, np.float32)
    canvas[60:220, 170:330] = 0.45 + 0.4 * np.asarray(seven.resize((160, 160)), np.float32) / 255
    rows, cols = np.mgrid[0:400, 0:400]
    x = to_mnist(np.where(cols + (399 - rows) < 200, 0.5 * canvas, canvas))
    assert correlation(x, seven_28) > 0.9


def test_digit_written_across_a_margin_line(seven):
    """The margin line runs through the digit: one component with it, yet only the digit is wanted."""
    clean, margin = picture_with(seven, lambda draw: draw.line([(392, 30), (392, 599)], fill=40, width=3))
    # The line's pixels where it crosses the strokes stay: a stub of a pixel or two.
    assert shifted_correlation(to_mnist(margin), to_mnist(clean)) > 0.85


def test_sides_of_an_outline_whose_ruled_edges_are_removed_are_not_the_digit(seven):
    """The outline's top and bottom are long enough to pass for ruled lines; what is left of it,
    two tall thin sides, must not be taken for a 1."""
    clean, framed = picture_with(seven, lambda draw: draw.rectangle((20, 60, 780, 560), outline=40, width=4))
    assert correlation(to_mnist(framed), to_mnist(clean)) > 0.95


@pytest.mark.parametrize("edge", [
    lambda draw: draw.line([(560, 0), (680, 599)], fill=40, width=12),  # a slanted line: too wide a box for a ruled line
    lambda draw: draw.polygon([(560, 0), (660, 0), (780, 599), (680, 599)], fill=60),  # a strip of desk across the picture
])
def test_slanted_edge_or_strip_across_the_page_is_not_the_digit(seven, edge):
    """A desk's or sheet's edge, or a strip of desk, runs from the picture's edge across it at a slant."""
    clean, edged = picture_with(seven, edge)
    assert correlation(to_mnist(edged), to_mnist(clean)) > 0.95


def test_sheet_on_a_desk_is_looked_inside_before_its_edges_are_taken_for_strokes(seven, seven_28):
    """A sheet reaching the top of the photo, with a dark shadow along one side: the first look finds
    the sheet as light ink; looking for thin dark strokes first would find the shadow, not the digit."""
    desk = np.full((600, 800), 0.65, np.float32)
    sheet = np.full((380, 420), 0.9, np.float32)
    sheet[90:290, 110:310] *= 1 - 0.25 * (1 - np.asarray(seven.resize((200, 200)), np.float32) / 255)  # faint
    desk[0:380, 200:620] = sheet
    desk[0:380, 620:632] = 0.1  # the sheet's shadow on the desk
    x = to_mnist(desk + np.random.default_rng(0).normal(0, 0.02, desk.shape).astype(np.float32))
    assert correlation(x, seven_28) > 0.95


def test_faint_digit_beside_a_dark_edge_running_off_the_picture(seven, seven_28):
    """A desk's edge far darker than faint pencil sets an ink level the digit never reaches."""
    page = np.full((600, 800), 0.9, np.float32)
    page[150:450, 250:550] *= 1 - 0.25 * (1 - np.asarray(seven.resize((300, 300)), np.float32) / 255)
    page[:360, 700:712] = 0.1
    x = to_mnist(page + np.random.default_rng(0).normal(0, 0.02, page.shape).astype(np.float32))
    assert correlation(x, seven_28) > 0.95


def test_lit_strip_running_off_the_picture_is_not_light_ink():
    """A lit strip between two shadows crosses a dim page beside a faint, thin pencil 7: the strip is
    brighter than the page, but it runs off the picture, where chalk would not; the 7 is the ink."""
    pen = Image.new("L", (800, 600), 255)
    ImageDraw.Draw(pen).line([(560, 110), (620, 110), (580, 200)], fill=0, width=3)
    page = 0.55 * (1 - 0.3 * (1 - np.asarray(pen, np.float32) / 255))
    noise = np.random.default_rng(0).normal(0, 0.02, page.shape).astype(np.float32)
    rows, cols = np.mgrid[0:600, 0:800]
    lit = 1 + 0.3 * np.clip((120 - np.abs(cols - 0.8 * rows - 400)) / 10, 0, 1)
    assert correlation(to_mnist(page * lit + noise), to_mnist(page + noise)) > 0.95


def test_corner_of_a_sheet_with_a_dark_rim_is_not_the_digit():
    """A sheet's corner on a dark desk, with a dark rim (its shadow) along one edge running off the
    picture, and a faint pencil 7 on the sheet: the rim is darker than the pencil, but it is a step."""
    pen = Image.new("L", (800, 600), 255)
    ImageDraw.Draw(pen).line([(260, 220), (330, 220), (285, 330)], fill=0, width=3)
    page = 0.85 * (1 - 0.25 * (1 - np.asarray(pen, np.float32) / 255))
    noise = np.random.default_rng(0).normal(0, 0.02, page.shape).astype(np.float32)
    rows, cols = np.mgrid[0:600, 0:800]
    desk = (cols - 560 - 0.3 * rows > 0) | (rows - 480 + 0.2 * cols > 0)
    rim = np.abs(cols - 560 - 0.3 * rows) < 3
    photo = np.where(desk, 0.3, np.where(rim, 0.15, page))
    assert correlation(to_mnist(photo + noise), to_mnist(page + noise)) > 0.95


def test_paper_inside_a_bold_zero_on_a_small_sheet_is_not_the_digit():
    """A small sheet on a dark desk, taken for light ink, with a bold 0 on it: the paper inside the 0's
    loop is light "ink" too, and inside the picture, but it lies in a hole of the sheet."""
    sheet = Image.new("L", (200, 160), 230)
    ImageDraw.Draw(sheet).ellipse((70, 30, 130, 130), outline=20, width=14)
    desk = Image.new("L", (800, 600), 50)
    desk.paste(sheet, (300, 200))
    photo = np.asarray(desk, np.float32) / 255 + np.random.default_rng(0).normal(0, 0.02, (600, 800)).astype(np.float32)
    assert correlation(to_mnist(photo), to_mnist(np.asarray(sheet))) > 0.95


def test_margin_line_fading_before_the_edges_is_not_the_digit(seven):
    """A margin line that uneven light fades out before it reaches the picture's edges is long, thin
    and straight: a line, though it does not run off the picture (a 1's stroke is far shorter)."""
    clean, margin = picture_with(seven, lambda draw: draw.line([(100, 60), (100, 540)], fill=40, width=5))
    assert correlation(to_mnist(margin), to_mnist(clean)) > 0.95


def test_faint_digit_among_darker_specks(seven, seven_28):
    """Dust darker than faint pencil sets an ink level the digit never reaches; the digit still wins."""
    page = np.full((600, 800), 0.9, np.float32)
    page[200:420, 300:520] *= 1 - 0.3 * (1 - np.asarray(seven.resize((220, 220)), np.float32) / 255)
    rng = np.random.default_rng(1)
    rows, cols = np.ogrid[:600, :800]
    for y, x in zip(rng.integers(20, 580, 12), rng.integers(20, 780, 12)):
        page[(rows - y) ** 2 + (cols - x) ** 2 <= 36] = 0.1
    x = to_mnist(page + rng.normal(0, 0.02, page.shape).astype(np.float32))
    assert correlation(x, seven_28) > 0.9


def test_lit_side_of_a_shadow_over_the_page_centre_is_not_light_ink():
    """A shadow darkens the centre of a white page: the lit side stands out as "light ink" there,
    but light ink does not belong on light paper, so the dark pen strokes are found instead."""
    sample = realistic.make_sample(0, np.random.default_rng([77, 210]), force={"lighting": "shadow", "capture": "photo"})
    gray = np.asarray(sample.upright().convert("L"), np.float32) / 255
    found = locate_ink(gray, lambda found: found)
    assert found.ink.sign < 0
    assert shifted_correlation(digit_input(found), to_mnist(np.asarray(digit_image(0, size=200)))) > 0.5


@pytest.mark.parametrize("desk", [0.25, 0.45])
def test_faint_digit_on_a_tilted_sheet_is_looked_for_inside_the_sheet_first(seven, seven_28, desk):
    """A light sheet, tilted, on a darker desk, with a faint pencil 7 on it: the sheet's edges and
    corners must not be taken for the strokes."""
    rows, cols = np.mgrid[:600, :800].astype(np.float32)
    angle = np.radians(6)
    u = (cols - 420) * np.cos(angle) + (rows - 330) * np.sin(angle)
    v = (rows - 330) * np.cos(angle) - (cols - 420) * np.sin(angle)
    sheet = np.clip(0.5 - np.maximum(np.abs(u) - 230, np.abs(v) - 170), 0, 1)
    photo = desk + (0.9 - desk) * sheet
    photo[300:420, 380:500] *= 1 - 0.2 * (1 - np.asarray(seven.resize((120, 120)), np.float32) / 255)
    x = to_mnist(photo + np.random.default_rng(0).normal(0, 0.02, photo.shape).astype(np.float32))
    assert shifted_correlation(x, seven_28) > 0.9
