"""The layer grid figure drawn from an EmbeddingSet (the embeddings CSV is tests/core/test_writers.py's)."""

from __future__ import annotations

import numpy as np

from ibviewer.core.embedding import embed_layers
from ibviewer.core.layer_figure import plot_layer_grid
from ibviewer.core.probes import run_probes
from tests.core.embedding.data import layered_acts


def test_layer_grid_outputs(tmp_path):
    acts = layered_acts(n_layers=3)
    probes = run_probes(acts)
    for dims in (2, 3):
        result = embed_layers(acts, method="pca", dims=dims)
        png = plot_layer_grid(result, acts.labels, ["a", "b", "c", "d"], probes=probes, path=tmp_path / f"g{dims}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    figure = plot_layer_grid(result, acts.labels)
    titles = [ax.get_title() for ax in figure.axes]
    assert any(title.startswith("l0 (16-d)") for title in titles)


def test_five_layers_are_drawn_in_a_grid_without_empty_rows_or_a_mostly_empty_row():
    from ibviewer.core.embedding import EmbeddingSet, LayerEmbedding
    from ibviewer.core.layer_figure import plot_layer_grid

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    layers = tuple(f"l{i}" for i in range(5))
    panels = {
        (0, layer): LayerEmbedding(layer=layer, epoch=0, coords=rng.normal(size=(60, 2)).astype(np.float32), method="pca",
                                   dims=2, params={}, seed=0, embedded_idx=np.arange(60), n_features=4)
        for layer in layers
    }  # fmt: skip
    embeddings = EmbeddingSet("pca", 2, 0, {}, "none", (0,), layers, panels)
    figure = plot_layer_grid(embeddings, labels)
    shapes = {ax.get_subplotspec().get_geometry()[:2] for ax in figure.axes if ax.get_subplotspec() is not None}
    assert shapes == {(2, 3)}  # was 2 x 4: three empty cells
