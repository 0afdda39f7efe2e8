"""Honest probabilities and "unsure": temperature scaling, ECE, the fitted policy, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from digitcli.network import calibration, rejection, store
from digitcli.cli import app
from digitcli.errors import ModelError
from digitcli.network.infer import softmax
from digitcli.network.rejection import Judge

from tests.conftest import REPO, random_network

runner = CliRunner()
FASHION = Path("/usr/share/datasets/fashion-mnist")


def sampled_labels(z: np.ndarray, seed: int = 0) -> np.ndarray:
    """Labels drawn from softmax(z): logits z are then perfectly calibrated by construction."""
    rng = np.random.default_rng(seed)
    p = softmax(z)
    return (p.cumsum(axis=1) > rng.random((len(z), 1))).argmax(axis=1)


def test_fit_temperature_recovers_the_scale_of_overconfident_logits():
    z = np.random.default_rng(1).normal(0, 2, (20000, 10))
    labels = sampled_labels(z)
    assert calibration.fit_temperature(3.0 * z, labels) == pytest.approx(3.0, rel=0.05)
    assert calibration.fit_temperature(z, labels) == pytest.approx(1.0, rel=0.05)


def test_calibration_lowers_ece_on_held_out_data():
    z = np.random.default_rng(2).normal(0, 2, (20000, 10))
    labels = sampled_labels(z, seed=3)
    overconfident = 2.5 * z
    fit, held_out = slice(0, 10000), slice(10000, None)
    temperature = calibration.fit_temperature(overconfident[fit], labels[fit])
    result = calibration.report(overconfident[held_out], labels[held_out], temperature)
    assert result["ece_before"] > 0.05
    assert result["ece_after"] < 0.015
    assert sum(row["count"] for row in result["reliability"]) == 10000


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    # Two images in the 90–100% bin, confidence 0.95 each, one right: gap 0.45.
    p = np.full((2, 10), 0.05 / 9)
    p[:, 3] = 0.95
    assert calibration.expected_calibration_error(p, np.array([3, 4])) == pytest.approx(0.45)


def clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten 'digit' prototypes plus noise: a stand-in training set for the policy's plumbing."""
    prototypes = np.random.default_rng(100).integers(0, 256, (10, 784))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = np.clip(prototypes[y] + rng.normal(0, 20, (n, 784)), 0, 255).astype(np.uint8)
    return x, y


def network_with_policy():
    """A small random network with a policy fitted on the cluster 'digits'."""
    network = random_network(hidden=(32, 16))
    x, _ = clusters(2000, seed=1)
    return replace(network, unsure=rejection.fit(network, x, clusters(600, seed=2)[0]))


def test_policy_flags_about_the_target_share_of_digits_and_far_inputs():
    network = random_network(hidden=(32, 16))
    x, y = clusters(4000, seed=1)
    x_held, _ = clusters(2000, seed=2)
    policy = rejection.fit(network, x, x_held)
    network = replace(network, unsure=policy)
    _, unsure = rejection.judge_all(Judge(), network, clusters(4000, seed=3)[0])
    assert 0.002 < unsure.mean() < 0.03
    far = np.random.default_rng(4).integers(0, 256, (200, 784)).astype(np.uint8)
    _, unsure_far = rejection.judge_all(Judge(), network, far)
    assert unsure_far.mean() > 0.9
    _, reasons = Judge().classify(network, far[:5])
    assert all(reason in rejection.REASONS.values() for reason in reasons)
    _, none = rejection.judge_all(Judge(policy=False), network, far)
    assert not none.any()


def test_min_confidence_gives_its_own_reason():
    network = random_network()
    probabilities, reasons = Judge(policy=False, min_confidence=0.999).classify(
        network, np.zeros((3, 784), np.uint8) + 100)
    assert all(r == f"confidence {p:.1%} is below the minimum 100%"
               for r, p in zip(reasons, probabilities.max(axis=1)))


def test_temperature_and_policy_survive_the_model_file(tmp_path):
    network = replace(network_with_policy(), temperature=1.7)
    store.save(network, tmp_path / "m.npz")
    loaded = store.load(tmp_path / "m.npz")
    assert loaded.temperature == pytest.approx(1.7)
    sample = clusters(50, seed=5)[0]
    np.testing.assert_allclose(loaded.probabilities(sample), network.probabilities(sample))
    assert Judge().classify(loaded, sample)[1] == Judge().classify(network, sample)[1]


def test_damaged_policy_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "m.npz"
    store.save(network_with_policy(), path)
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["unsure.components"] = arrays["unsure.components"][:, :100]
    np.savez(path, **arrays)
    before = path.read_bytes()
    with pytest.raises(ModelError, match="unsure policy"):
        store.load(path)
    assert path.read_bytes() == before


def test_cli_marks_unsure_pictures_and_still_guesses(tmp_path):
    model = tmp_path / "m.npz"
    store.save(network_with_policy(), model)
    from PIL import Image

    noise = np.random.default_rng(7).integers(0, 256, (28, 28)).astype(np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    result = runner.invoke(app, ["predict", str(tmp_path / "noise.png"), "-m", str(model),
                                 "--preprocess", "none", "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "unsure"
    assert record["reason"] in rejection.REASONS.values()
    assert record["digit"] is not None and len(record["probabilities"]) == 10
    assert "1 of 1 inputs are unsure" in result.stderr

    off = runner.invoke(app, ["predict", str(tmp_path / "noise.png"), "-m", str(model),
                              "--preprocess", "none", "-f", "csv", "--no-unsure"])
    assert off.exit_code == 0
    header, row = off.stdout.strip().splitlines()
    assert header.endswith(",error,reason") and ",ok," in row

    table = runner.invoke(app, ["predict", str(tmp_path / "noise.png"), "-m", str(model),
                                "--preprocess", "none"])
    assert "unsure:" in table.stdout and "best guess" in table.stdout


def test_evaluate_reports_calibration_and_separation(mnist_dir, tmp_path):
    if not FASHION.is_dir():
        pytest.skip(f"{FASHION} is missing: install Debian's dataset-fashion-mnist")
    result = runner.invoke(app, ["evaluate", "--data", str(mnist_dir), "--ood", str(FASHION),
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    calibrated = report["calibration"]
    assert calibrated["ece_after"] <= 0.01
    assert sum(row["count"] for row in calibrated["reliability"]) == 10000
    unsure = report["unsure"]
    assert unsure["digits"] == unsure["others"] == 10000
    # The goal, on the full test sets of both (the bundled model's figures).
    assert unsure["others_rejected"] >= 0.95
    assert unsure["digits_rejected"] <= 0.01
    assert unsure["others_rejected"] > unsure["others_rejected_by_floor"]


def test_bundled_model_is_calibrated_and_has_a_policy():
    network = store.load(REPO / "models" / "digitcli-mnist.npz")
    assert network.unsure is not None
    assert network.metadata["calibration"]["fitted_on"].startswith("validation split")


def test_evaluate_ood_reads_a_folder_of_pictures(tmp_path):
    model = tmp_path / "m.npz"
    store.save(network_with_policy(), model)
    digits = tmp_path / "digits.csv"
    x_test, y_test = clusters(300, seed=3)
    digits.write_text("".join(f"{label}," + ",".join(map(str, row)) + "\n"
                              for label, row in zip(y_test, x_test)))
    from PIL import Image

    others = tmp_path / "others"
    others.mkdir()
    rng = np.random.default_rng(8)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (28, 28)).astype(np.uint8)).save(others / f"{i}.png")
    Image.new("L", (50, 50), 255).save(others / "blank.png")  # no ink: counted as rejected
    result = runner.invoke(app, ["evaluate", "-m", str(model), "--data", str(digits),
                                 "--ood", str(others), "-f", "json"])
    assert result.exit_code == 0, result.output
    unsure = json.loads(result.stdout)["unsure"]
    assert unsure["others_source"] == f"pictures in {others}"
    assert unsure["others"] == 4 and unsure["digits"] == 300
    assert unsure["others_rejected"] == 1.0
    assert unsure["digits_rejected"] < 0.05


def test_evaluate_ood_refuses_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    digits = tmp_path / "digits.csv"
    x_test, y_test = clusters(20, seed=3)
    digits.write_text("".join(f"{label}," + ",".join(map(str, row)) + "\n"
                              for label, row in zip(y_test, x_test)))
    model = tmp_path / "m.npz"
    store.save(network_with_policy(), model)
    result = runner.invoke(app, ["evaluate", "-m", str(model), "--data", str(digits),
                                 "--ood", str(tmp_path / "empty")])
    assert result.exit_code == 4
    assert "no images found in this folder" in result.stderr


def test_non_finite_probabilities_are_never_ok(tmp_path):
    """Defence in depth: even a network that bypassed the load-time checks gives error records."""
    from digitcli.network.infer import Layer
    from digitcli.inputs import Item
    from digitcli.predict import NON_FINITE, predict
    from PIL import Image

    network = random_network()
    first = network.layers[0]
    broken = Layer(np.full_like(first.weights, np.nan), first.bias, first.activation)
    network = replace(network, layers=(broken, *network.layers[1:]))
    Image.fromarray(clusters(1, seed=3)[0].reshape(28, 28)).save(tmp_path / "d.png")
    [record] = [p.as_record() for p in predict([Item(str(tmp_path / "d.png"))], network,
                                               mode="none")]
    assert record["status"] == "error" and record["error"] == NON_FINITE
