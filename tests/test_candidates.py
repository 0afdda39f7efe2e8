"""Candidate digits (vision.candidates) and the network's choice among them (network.choice)."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from digitcli.errors import NoDigitError
from digitcli.network import choice, store
from digitcli.network.choice import SEARCH_MARGIN, SEARCH_REJECTS, choose, chosen_input, contest
from digitcli.vision import candidates
from digitcli.vision.candidates import Candidates, propose


def framed_digit(digit: str, *, light: bool = False) -> np.ndarray:
    """A printed digit inside a dark window frame that runs along the picture's edges (a meter's)."""
    paper, ink = (40, 230) if light else (230, 20)
    picture = np.full((64, 44), paper, np.uint8)
    cv2.rectangle(picture, (0, 0), (43, 63), 255 - paper if light else 40, 5)
    cv2.putText(picture, digit, (8, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.4, ink, 3, cv2.LINE_AA)
    return picture.astype(np.float32) / 255


@pytest.fixture(scope="module")
def network():
    return store.load(store.bundled_model_path())


def test_groupings_drop_specks_and_offer_the_ink_clear_of_the_edge():
    mask = np.zeros((100, 100), bool)
    mask[:, :4] = True  # a frame's edge along the border
    mask[30:70, 40:46] = True  # a stroke inside
    mask[90, 90] = True  # a speck
    groups = dict(candidates._groupings(mask))
    assert set(groups) == {"main", "inner", "all"}
    assert groups["main"][:, :4].all() and not groups["main"][30:70, 40:46].any()  # the edge is the largest
    assert groups["inner"][30:70, 40:46].all() and not groups["inner"][:, :4].any()
    assert not any(g[90, 90] for g in groups.values())
    assert groups["all"][:, :4].all() and groups["all"][30:70, 40:46].all()


def test_masks_threshold_globally_with_otsu_and_locally():
    ink = np.zeros((120, 120), np.float32)
    ink[:, 60:] = 0.3  # a broad shadow step: locally flat
    ink[20:100, 20:26] = 0.8  # a stroke on the bright side
    ink[20:100, 90:96] = 0.6  # and one in the shadow
    masks = dict(candidates._masks(ink, floor=0.4, noise=0.01))
    assert masks["level"][50, 22] and not masks["level"][50, 70] and masks["level"][50, 92]
    assert masks["otsu"][50, 22] and masks["otsu"][50, 92]
    assert masks["local"][50, 92] and not masks["local"][50, 75]  # the flat step is not local ink


def test_both_polarities_are_proposed_for_a_framed_digit():
    dark = propose(framed_digit("3"), None)
    light = propose(framed_digit("3", light=True), None)
    assert dark.pixels.shape[1:] == (28, 28) and dark.pixels.dtype == np.uint8
    assert any(s.endswith("-dark") for s in dark.sources) and any("inner" in s for s in dark.sources)
    assert any(s.endswith("-light") for s in light.sources)


def test_the_network_chooses_the_digit_not_its_frame(network):
    for digit in "0347":
        for light in (False, True):
            proposals = propose(framed_digit(digit, light=light), None)  # no search: the choice alone
            pick = choose(network, [proposals])[0]
            assert network.logits(proposals.pixels[pick : pick + 1]).argmax() == int(digit), (digit, light)
            assert "inner" in proposals.sources[pick]


def test_a_blank_picture_has_no_candidates():
    with pytest.raises(NoDigitError):
        propose(np.full((50, 50), 0.9, np.float32), None)


def stub_network(scores: list[float], threshold: float = 1.0):
    """A network whose policy gives each candidate the score listed (in order)."""
    values = np.array(scores, float)
    unsure = SimpleNamespace(threshold=threshold,
                             scores=lambda pixels, scale, z: (values[: len(pixels)], None))
    return SimpleNamespace(unsure=unsure, input_scale=1.0, logits=lambda pixels: np.zeros((len(pixels), 10)))


def proposals(n: int, search: bool = True) -> Candidates:
    return Candidates(np.zeros((n, 28, 28), np.uint8), ("search",) * search + ("other",) * (n - search))


def test_the_search_is_kept_unless_beaten_by_the_margin():
    assert choose(stub_network([1.2, 1.2 - SEARCH_MARGIN + 0.01]), [proposals(2)]) == [0]
    assert choose(stub_network([1.2, 1.2 - SEARCH_MARGIN - 0.01]), [proposals(2)]) == [1]
    assert choose(stub_network([1.2, 0.5]), [proposals(2, search=False)]) == [1]


def test_only_searches_near_the_threshold_are_contested():
    pixels = np.zeros((28, 28), np.uint8)
    for score, contested in ((1.0 - choice.CONTESTED_BELOW - 0.01, False), (0.9, True),
                             (1.0 + SEARCH_REJECTS, True), (1.0 + SEARCH_REJECTS + 0.01, False)):
        assert contest(stub_network([score]))(pixels) is contested
    assert contest(SimpleNamespace(unsure=None)) is None


def test_an_mnist_picture_is_read_as_it_is(network, mnist_dir, tmp_path):
    from digitcli.training import data

    picture = data.load_split(mnist_dir, "test").x[0].reshape(28, 28)
    path = tmp_path / "digit.png"
    Image.fromarray(picture).save(path)
    assert np.array_equal(chosen_input(path, network), picture)


def test_predict_chooses_among_candidates_only_when_asked(tmp_path):
    from typer.testing import CliRunner

    from digitcli.cli import app

    Image.fromarray((framed_digit("4") * 255).astype(np.uint8)).save(tmp_path / "meter.png")
    for mode in ("auto", "choose"):
        result = CliRunner().invoke(app, ["predict", str(tmp_path / "meter.png"), "--format", "jsonl",
                                          "--preprocess", mode])
        assert result.exit_code == 0, result.output
        assert '"digit":4' in result.output.replace(" ", "")
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "meter.png"), "--number", "--preprocess", "choose"])
    assert result.exit_code == 2 and "--preprocess choose" in result.output
