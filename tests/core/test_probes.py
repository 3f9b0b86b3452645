"""Layer probes: accuracy near 1 on separable data, near chance on shuffled labels; saturation; CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ibviewer.core.probes import run_probes, write_probes_csv
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
    assert result.pruning_note() == "layers after l2 add less than 1% accuracy: candidates for pruning."
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
    result = run_probes(make_acts(labels), epochs="all", cv=3, max_samples=150, progress=progress)
    assert result.linear_acc.shape == (2, 4) and result.n_samples == 150 and result.cv == 3
    assert len(progress.updates) == 9 and progress.updates[-1][0] == 1.0
    assert result.saturation_layer(1) in result.layers
    path = write_probes_csv(result, tmp_path / "probes.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and rows[0].keys() == {"epoch", "layer", "linear_acc", "knn_acc"}
    assert float(rows[-1]["linear_acc"]) == pytest.approx(result.linear_acc[1, 3], abs=1e-6)


def test_no_pruning_note_when_the_last_layer_is_best():
    labels = np.repeat(np.arange(3), 60)
    result = run_probes(make_acts(labels), layers=["l0", "l2"], cv=3)
    assert result.saturation_layer() == "l2"
    assert "no layer is a pruning candidate" in result.pruning_note()


def test_bad_input():
    labels = np.repeat(np.arange(3), 30)
    acts = make_acts(labels)
    one_class = ActivationSet(acts.layers, acts.epochs, acts.values, np.zeros(90, np.int64), acts.sample_idx, key="o")
    with pytest.raises(EstimatorError, match="two classes"):
        run_probes(one_class)
    rare = labels.copy()
    rare[:3] = 3
    with pytest.warns(UserWarning, match="3-fold"):
        run_probes(ActivationSet(acts.layers, acts.epochs, acts.values, rare, acts.sample_idx, key="r"), layers=["l3"])
    with pytest.raises(EstimatorError, match="tolerance"):
        run_probes(acts, tolerance=5)
    with pytest.raises(Cancelled):
        run_probes(acts, progress=RecordingProgress(cancel_after=1))
