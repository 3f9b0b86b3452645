"""core/writers.py: one format per data file, exact values, names from the dataset."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ibviewer.core.embedding import embed_layers
from ibviewer.core.naming import SampleNames
from ibviewer.core.neighbors import find_neighbors
from ibviewer.core.types import ActivationSet, Dataset, LayerInfo
from ibviewer.core.writers import EMBEDDING_COLUMNS, NEIGHBOR_COLUMNS, write_embeddings_csv, write_neighbors_csv
from ibviewer.errors import IBViewerError


def _acts(n: int = 60) -> tuple[ActivationSet, Dataset]:
    rng = np.random.default_rng(3)
    labels = np.arange(n) % 3
    values = {name: rng.normal(size=(2, n, 5)).astype(np.float32) + labels[None, :, None] for name in ("h1", "h2")}
    layers = tuple(LayerInfo(name, "Tanh", (5,), 5) for name in values)
    sample_idx = np.arange(n, dtype=np.int64) * 2 + 7  # a subset of a larger dataset
    acts = ActivationSet(layers, (0, 9), values, labels.astype(np.int64), sample_idx, "k")
    words = tuple(f"w{i}" for i in range(2 * n + 7))
    dataset = Dataset("toy", "toy", "tokens", np.zeros((2 * n + 7, 1)), np.zeros(2 * n + 7, np.int64),
                      label_names=("red", "green", "blue"), words=words)  # fmt: skip
    return acts, dataset


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_embeddings_csv_holds_every_point_exactly_with_dataset_index_and_class_name(tmp_path):
    acts, dataset = _acts()
    result = embed_layers(acts, epochs="all", method="pca", dims=3, use_cache=False)
    panels = [result.get(epoch, layer) for epoch in acts.epochs for layer in acts.layer_names]
    rows = _read(write_embeddings_csv(tmp_path / "e.csv", panels, acts, SampleNames(acts, dataset)))
    assert rows[0] == [*EMBEDDING_COLUMNS, "x", "y", "z"]
    body = rows[1:]
    assert len(body) == 2 * 2 * acts.n_samples
    first = body[0]
    assert first[:6] == ["0", "h1", "pca", "7", "0", "red"]
    coords = np.array([[float(v) for v in r[6:]] for r in body if r[0] == "9" and r[1] == "h2"], dtype=np.float32)
    np.testing.assert_array_equal(coords, result.get(9, "h2").coords)  # repr round-trips every float exactly
    assert {r[5] for r in body} == {"red", "green", "blue"}


def test_neighbors_csv_lists_every_layer_nearest_first_with_words(tmp_path):
    acts, dataset = _acts()
    neighbors = find_neighbors(acts, 9, 4, layer="h1", k=3)
    rows = _read(write_neighbors_csv(tmp_path / "n.csv", neighbors, acts, SampleNames(acts, dataset)))
    assert rows[0] == list(NEIGHBOR_COLUMNS)
    body = rows[1:]
    assert len(body) == 2 * 3 and [r[5] for r in body] == ["h1"] * 3 + ["h2"] * 3
    assert {(r[0], r[1], r[2], r[3], r[4]) for r in body} == {("9", "euclidean", "15", "w15", "h1")}
    h1 = [r for r in body if r[5] == "h1"]
    assert [int(r[7]) for r in h1] == (acts.sample_idx[neighbors.indices["h1"]]).tolist()
    assert [r[8] for r in h1] == [f"w{i}" for i in acts.sample_idx[neighbors.indices["h1"]]]
    assert [float(r[11]) for r in h1] == neighbors.distances["h1"].tolist()


def test_nothing_to_write_and_unwritable_places_are_one_line_errors(tmp_path):
    acts, _ = _acts()
    with pytest.raises(IBViewerError, match="No embeddings"):
        write_embeddings_csv(tmp_path / "e.csv", [], acts)
    result = embed_layers(acts, method="pca", use_cache=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IBViewerError, match="Could not write"):
        write_embeddings_csv(blocker / "e.csv", [result.get(9, "h1")], acts)
