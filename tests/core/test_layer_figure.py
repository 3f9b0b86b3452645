"""The layer grid figure and the embeddings CSV files written from an EmbeddingSet."""

from __future__ import annotations

import csv

import numpy as np

from ibviewer.core.embedding import embed_layers
from ibviewer.core.layer_figure import plot_layer_grid, write_embeddings_csv
from ibviewer.core.probes import run_probes
from tests.core.embedding.data import layered_acts


def test_layer_grid_and_csv_outputs(tmp_path):
    acts = layered_acts(n_layers=3)
    probes = run_probes(acts, cv=3)
    for dims in (2, 3):
        result = embed_layers(acts, method="pca", dims=dims)
        png = plot_layer_grid(result, acts.labels, ["a", "b", "c", "d"], probes=probes, path=tmp_path / f"g{dims}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        files = write_embeddings_csv(result, acts.labels, tmp_path / f"csv{dims}", sample_idx=acts.sample_idx + 100)
        assert [f.relative_to(tmp_path / f"csv{dims}").as_posix() for f in files] == ["1/l0.csv", "1/l1.csv", "1/l2.csv"]
        with files[1].open() as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["index", "label", "x", "y", "z"][: 2 + dims]
        assert len(rows) == acts.n_samples + 1
        assert int(rows[1][0]) == 100 and int(rows[1][1]) == acts.labels[0]
        np.testing.assert_allclose([float(v) for v in rows[1][2:]], result.get(1, "l1").coords[0], rtol=1e-5, atol=1e-5)
    figure = plot_layer_grid(result, acts.labels)
    titles = [ax.get_title() for ax in figure.axes]
    assert any(title.startswith("l0 (16-d)") for title in titles)
