"""The layer grid figure drawn from an EmbeddingSet (the embeddings CSV is tests/core/test_writers.py's)."""

from __future__ import annotations

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
