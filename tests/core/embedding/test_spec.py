"""EmbeddingSpec: checked once where it is made, read by every step, the cache key's settings."""

from __future__ import annotations

import pytest

from ibviewer.core.config import ALIGNMENTS, METHODS
from ibviewer.core.embedding import EmbeddingSpec
from ibviewer.errors import EstimatorError


def test_a_spec_fills_in_the_defaults_and_keeps_its_own_copy():
    given = {"perplexity": 12.0}
    spec = EmbeddingSpec(method="tsne", dims=3, params=given)
    given["perplexity"] = 99.0
    assert spec.params == {"perplexity": 12.0}
    resolved = spec.resolved_params()
    assert resolved["perplexity"] == 12.0 and resolved["n_iter"] == "auto"
    resolved["n_iter"] = 1
    assert spec.resolved_params()["n_iter"] == "auto"  # a fresh dict each time: methods may adapt theirs
    assert spec.title == METHODS["tsne"] == "t-SNE"
    with pytest.raises(AttributeError):
        spec.method = "pca"  # type: ignore[misc]


def test_the_sequence_parameters_belong_to_aligned_umap():
    # a single UMAP (alignment None) accepts and drops them, as embed() always did
    single = EmbeddingSpec(method="umap", params={"alignment_window_size": 2})
    assert "alignment_window_size" not in single.resolved_params()
    assert single.resolved_params()["n_neighbors"] == 15
    EmbeddingSpec(method="umap", alignment="aligned_umap", params={"alignment_window_size": 2})
    with pytest.raises(EstimatorError, match="applies to alignment='aligned_umap' only"):
        EmbeddingSpec(method="umap", alignment="init", params={"alignment_window_size": 2})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "mds"}, "Unknown embedding method 'mds'; choose one of tsne, umap, pca"),
        ({"alignment": "magic"}, "Unknown alignment 'magic'; choose one of " + ", ".join(ALIGNMENTS)),
        ({"method": "tsne", "alignment": "aligned_umap"}, "works with method='umap' only"),
        ({"pca_dims": 1}, "pca_dims must be an integer >= 2"),
        ({"dims": True}, "2 or 3 dimensions"),
        ({"method": "pca", "params": {"perplexity": 5}}, "PCA does not take perplexity; its parameters: none"),
    ],
)
def test_a_bad_spec_is_refused_when_made(kwargs, match):
    with pytest.raises(EstimatorError, match=match):
        EmbeddingSpec(**kwargs)


def test_cache_settings_hold_everything_a_panel_depends_on():
    spec = EmbeddingSpec(method="tsne", params={"perplexity": 5.0}, alignment="init", max_points=50)
    settings = spec.cache_settings()
    assert set(settings) == {
        "method", "dims", "seed", "params", "preprocessing", "pca_dims", "alignment", "max_points", "faithfulness"
    }  # fmt: skip
    assert settings["params"] == {"perplexity": 5.0}  # what the user asked for, not the filled-in defaults
    assert spec.recorded_settings() == {"preprocessing": "none", "pca_dims": None, "alignment": "init", "max_points": 50}
