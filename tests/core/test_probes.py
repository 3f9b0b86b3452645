"""Layer probes: held-out scores (a memorised label probes at chance), raw-input baseline, intervals, pruning, CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from dataclasses import replace

from ibviewer.core.output_meta import read_sidecar
from ibviewer.core.probes import PROBE_COLUMNS, join_probes, run_probes, write_probes_csv
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import Cancelled, EstimatorError


def make_acts(labels: np.ndarray, seed: int = 0) -> ActivationSet:
    """Four layers with growing class separation: noise, weak, separable, separable."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    centres = rng.normal(size=(labels.max() + 1, 10))
    values = {}
    for name, scale in (("l0", 0.0), ("l1", 0.4), ("l2", 3.0), ("l3", 3.2)):
        values[name] = np.stack([scale * centres[labels] * (e + 1) / 2 + rng.normal(size=(n, 10)) for e in range(2)])
    layers = tuple(LayerInfo(name, name, (10,), 10) for name in values)
    return ActivationSet(layers, (1, 2), {k: v.astype(np.float32) for k, v in values.items()}, labels,
                         np.arange(n, dtype=np.int64), key="p")  # fmt: skip


def test_separable_layers_near_one_and_noise_near_chance():
    labels = np.repeat(np.arange(3), 100)
    result = run_probes(make_acts(labels), seed=0)
    assert result.layers == ("l0", "l1", "l2", "l3") and result.epochs == (2,)
    assert result.linear_acc.shape == (1, 4) and result.knn_acc.shape == (1, 4)
    assert result.linear_acc[0, 2] > 0.97 and result.knn_acc[0, 3] > 0.97
    assert abs(result.linear_acc[0, 0] - 1 / 3) < 0.12
    assert result.chance == pytest.approx(1 / 3)
    assert result.saturation_layer() == "l2"
    assert result.pruning_note() == (
        "layers after l2 add less than 1% accuracy, within the held-out spread at epoch 2: candidates for pruning."
    )
    assert result.split == "seeded" and (result.n_train, result.n_test) == (240, 60)
    assert np.all(result.linear_ci[..., 0] <= result.linear_acc) and np.all(result.linear_acc <= result.linear_ci[..., 1])
    again = run_probes(make_acts(labels), seed=0)
    np.testing.assert_array_equal(result.linear_acc, again.linear_acc)


def test_shuffled_labels_give_chance():
    labels = np.repeat(np.arange(2), 150)
    acts = make_acts(labels)
    shuffled = ActivationSet(acts.layers, acts.epochs, acts.values, np.random.default_rng(3).permutation(labels),
                             acts.sample_idx, key="s")  # fmt: skip
    result = run_probes(shuffled, layers=["l2", "l3"])
    assert np.all(np.abs(result.linear_acc - 0.5) < 0.12)
    assert np.all(np.abs(result.knn_acc - 0.5) < 0.12)


def test_epochs_progress_cap_and_csv(tmp_path):
    labels = np.repeat(np.arange(3), 100)
    progress = RecordingProgress()
    result = run_probes(make_acts(labels), epochs="all", max_samples=150, progress=progress)
    assert result.linear_acc.shape == (2, 4) and result.n_samples == 150 and result.n_test == 30
    assert len(progress.updates) == 9 and progress.updates[-1][0] == 1.0
    assert result.saturation_layer(1) in result.layers
    path = write_probes_csv(result, tmp_path / "probes.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and tuple(rows[0].keys()) == PROBE_COLUMNS
    assert float(rows[-1]["linear_acc"]) == pytest.approx(result.linear_acc[1, 3], abs=1e-6)
    assert float(rows[-1]["linear_low"]) == pytest.approx(result.linear_ci[1, 3, 0], abs=1e-6)
    meta = read_sidecar(path)
    assert meta["split"] == "seeded" and meta["max_samples"] == 150 and meta["n_samples"] == 150
    assert meta["n_test"] == 30 and meta["tolerance"] == 0.01 and meta["seed"] == 0 and meta["baseline"] is None


def test_no_pruning_note_when_the_last_layer_is_best():
    labels = np.repeat(np.arange(3), 60)
    result = run_probes(make_acts(labels), layers=["l0", "l2"])
    assert result.saturation_layer() == "l2"
    assert "no layer is a pruning candidate" in result.pruning_note()


def test_bad_input():
    labels = np.repeat(np.arange(3), 30)
    acts = make_acts(labels)
    one_class = ActivationSet(acts.layers, acts.epochs, acts.values, np.zeros(90, np.int64), acts.sample_idx, key="o")
    with pytest.raises(EstimatorError, match="two classes"):
        run_probes(one_class)
    rare = labels.copy()
    rare[:1] = 3
    with pytest.raises(EstimatorError, match="single sample"):
        run_probes(ActivationSet(acts.layers, acts.epochs, acts.values, rare, acts.sample_idx, key="r"), layers=["l3"])
    with pytest.raises(EstimatorError, match="tolerance"):
        run_probes(acts, tolerance=5)
    with pytest.raises(Cancelled):
        run_probes(acts, progress=RecordingProgress(cancel_after=1))


def test_a_layer_that_memorised_the_training_labels_probes_at_chance_on_the_held_out_samples():
    """The label is written into the layer for training samples only: held-out scores see chance, CV over all would not."""
    rng = np.random.default_rng(1)
    n, n_classes = 400, 4
    labels = rng.integers(0, n_classes, n)
    test_idx = np.arange(300, 400)
    memorised = rng.normal(size=(n, 8))
    train = np.setdiff1d(np.arange(n), test_idx)
    memorised[train, :n_classes] += 6 * np.eye(n_classes)[labels[train]]  # one-hot label, training rows only
    values = {"mem": memorised[None].astype(np.float32)}
    layers = (LayerInfo("mem", "mem", (8,), 8),)
    inputs = rng.normal(size=(n, 5)).astype(np.float32)
    inputs[:, 0] += 3 * (labels % 2)  # the raw inputs carry half the label
    acts = ActivationSet(layers, (0,), values, labels.astype(np.int64), np.arange(n, dtype=np.int64), key="m",
                         inputs=inputs, test_indices=test_idx)  # fmt: skip
    result = run_probes(acts, use_cache=False)
    assert result.split == "run" and (result.n_train, result.n_test) == (300, 100)
    assert abs(result.linear_acc[0, 0] - 1 / n_classes) < 0.12 and abs(result.knn_acc[0, 0] - 1 / n_classes) < 0.12
    low, high = result.linear_ci[0, 0]
    assert low < 1 / n_classes and high < 0.4  # the interval says: no better than chance
    # the raw inputs, probed alike, beat the layer: the baseline row
    assert result.baseline is not None and result.baseline.n_features == 5
    assert result.baseline.linear_acc > 0.4 and result.to_rows()[0]["layer"] == "input"
    # without the split (seeded held-out part mixing trained rows), the same layer looks far better than chance
    leaky = run_probes(ActivationSet(layers, (0,), values, acts.labels, acts.sample_idx, key="m2"), use_cache=False)
    assert leaky.split == "seeded" and leaky.linear_acc[0, 0] > 0.6
    assert "seeded held-out 20%" in leaky.split_note() and "held-out samples" in result.split_note()


def test_pruning_hint_needs_the_gain_inside_the_spread_at_the_last_epochs():
    labels = np.repeat(np.arange(3), 100)
    acts = make_acts(labels)
    result = run_probes(acts, epochs="all", use_cache=False)
    # a later layer that gains more than the held-out spread at one of the last epochs: no hint
    gained = replace(result, gain=np.array([0.05, 0.0]), gain_ci=np.array([[0.02, 0.08], [-0.01, 0.01]]))
    assert "more than the held-out spread: no pruning hint" in gained.pruning_note()
    assert "candidates for pruning" in replace(gained, gain_ci=np.array([[-0.01, 0.08], [-0.01, 0.01]])).pruning_note()
    # joining per-epoch results gives the multi-epoch result
    parts = [run_probes(acts, epochs=[e], use_cache=False) for e in acts.epochs]
    joined = join_probes(parts)
    for name in ("linear_acc", "knn_acc", "linear_ci", "knn_ci", "gain", "gain_ci"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(result, name))


def test_archive_test_indices_reach_the_probes(tmp_path):
    from ibviewer.core.run import open_run

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 50)
    path = tmp_path / "acts.npz"
    np.savez(path, labels=labels, **{"act/a": rng.normal(size=(100, 3)).astype(np.float32)}, test_indices=np.arange(80, 100))
    run = open_run(path)
    acts = run.activations()
    np.testing.assert_array_equal(acts.test_indices, np.arange(80, 100))
    result = run_probes(acts, use_cache=False)
    assert result.split == "run" and result.n_test == 20
    np.savez(path, labels=labels, **{"act/a": np.zeros((100, 3), np.float32)}, test_indices=np.array([100]))
    with pytest.raises(Exception, match="test_indices"):
        open_run(path)


def test_the_sample_cap_keeps_the_held_out_share_even_when_the_split_was_drawn_like_the_cap():
    """A run split by train_test_split(seed 0, stratified), as the bundled samples are: the cap must not keep only training rows."""
    from sklearn.model_selection import train_test_split

    labels = np.repeat(np.arange(2), 500)
    _, test_idx = train_test_split(np.arange(1000), test_size=0.2, random_state=0, stratify=labels)
    acts = make_acts(labels)
    capped = run_probes(replace(acts, test_indices=test_idx), max_samples=500, use_cache=False)
    assert capped.split == "run" and capped.n_test == 100 and capped.n_samples == 500
