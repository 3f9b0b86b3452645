"""core/config.py: the one definition of settings and run requests, their validation and `settings_diff`."""

from __future__ import annotations

import pytest

from ibviewer.core.config import ALIGNMENTS, ESTIMATORS, METHODS, AnalysisSettings, RunRequest, settings_diff
from ibviewer.errors import IBViewerError


def test_settings_diff_names_only_what_depends_on_the_change():
    base = AnalysisSettings()
    assert settings_diff(base, base.with_changes(perplexity=50.0)) == {"embeddings"}
    assert settings_diff(base, base.with_changes(n_bins=12)) == {"infoplane"}
    assert settings_diff(base, base.with_changes(range_mode="layer")) == {"infoplane"}
    assert settings_diff(base, base.with_changes(range_mode="fixed")) == {"infoplane"}
    assert settings_diff(base, base.with_changes(bin_range=(-2.0, 2.0))) == set()  # "auto" takes no fixed range
    fixed = base.with_changes(range_mode="fixed")
    assert settings_diff(fixed, fixed.with_changes(bin_range=(-2.0, 2.0))) == {"infoplane"}
    assert settings_diff(base, base.with_changes(estimator="kde")) == {"infoplane"}
    assert settings_diff(base, base.with_changes(dims=3)) == {"embeddings"}
    assert settings_diff(base, base.with_changes(max_points=500)) == {"embeddings"}
    # the seed seeds the probes' folds as well as the embeddings
    assert settings_diff(base, base.with_changes(seed=3)) == {"embeddings", "probes"}
    assert settings_diff(base, base.with_changes(alignment="procrustes", preprocessing="l2")) == {"embeddings"}
    assert settings_diff(base, base.with_changes(k=5)) == {"neighbors"}
    assert settings_diff(base, base.with_changes(metric="cosine")) == {"neighbors"}
    # display-only settings and parameters the chosen method / estimator ignore recompute nothing
    assert settings_diff(base, base.with_changes(color_by="faithfulness", search="^a", kde_band=False)) == set()
    assert settings_diff(base, base.with_changes(noise_var=0.1)) == set()  # binning ignores it
    assert settings_diff(base, base.with_changes(n_neighbors=40)) == set()  # t-SNE ignores it
    assert settings_diff(base.with_changes(range_mode="layer"), base.with_changes(range_mode="layer", bin_range=(0.0, 5.0))) == set()
    umap = base.with_changes(method="umap")
    assert settings_diff(umap, umap.with_changes(n_neighbors=40)) == {"embeddings"}
    assert settings_diff(umap, umap.with_changes(perplexity=5.0)) == set()
    assert settings_diff(None, base) == {"infoplane", "embeddings", "probes", "neighbors"}
    assert settings_diff(base, base.with_changes(n_bins=12, perplexity=5.0)) == {"infoplane", "embeddings"}


def test_settings_map_onto_the_core_arguments():
    s = AnalysisSettings(n_bins=12, range_mode="layer", method="umap", n_neighbors=20, pca_dims=50)
    assert s.estimator_params() == {"n_bins": 12, "value_range": "layer"}
    assert AnalysisSettings(bin_width=0.1).estimator_params() == {"bin_width": 0.1, "value_range": "auto"}
    fixed = AnalysisSettings(range_mode="fixed", bin_range=[0, 4])
    assert fixed.estimator_params()["value_range"] == (0.0, 4.0)
    assert AnalysisSettings(estimator="kde", noise_var=0.01).estimator_params() == {"noise_var": 0.01}
    params = s.embedding_params()
    assert params["n_neighbors"] == 20 and "perplexity" not in params and params["pca_dims"] == 50
    # the PCA preview of a UMAP setting: no UMAP parameters, no PCA-before-PCA, an alignment PCA can do
    preview = s.with_changes(alignment="aligned_umap").embedding_params("pca")
    assert preview["method"] == "pca" and "n_neighbors" not in preview
    assert preview["pca_dims"] is None and preview["alignment"] == "init"
    assert AnalysisSettings.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"alignment": "aligned_umap"}, "aligned_umap"),
        ({"n_bins": 1}, "n_bins"),
        ({"estimator": "magic"}, "estimator"),
        ({"metric": "manhattan"}, "metric"),
        ({"k": 0}, "k"),
        ({"bin_range": (1.0, -1.0)}, "low must be below high"),
        ({"bin_range": (0.0, float("nan"))}, "bin_range"),
        ({"max_points": 2}, "max_points"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_invalid_settings_are_refused_with_the_setting_named(changes, match):
    with pytest.raises(IBViewerError, match=match):
        AnalysisSettings(**changes)


def test_unknown_or_malformed_setting_dicts_are_refused():
    with pytest.raises(IBViewerError, match="Unknown analysis setting"):
        AnalysisSettings.from_dict({"bins": 3})
    with pytest.raises(IBViewerError, match="JSON object"):
        AnalysisSettings.from_dict(["binning"])


def test_choice_lists_have_titles_for_every_choice():
    assert list(ESTIMATORS) == ["binning", "adaptive", "kde", "renyi"]
    assert set(METHODS) == {"tsne", "umap", "pca"} and METHODS["tsne"] == "t-SNE"
    assert "aligned_umap" in ALIGNMENTS
    assert all(isinstance(title, str) and title for title in (*ESTIMATORS.values(), *METHODS.values()))


def test_run_request_round_trips_what_reopens_a_run_and_never_trust():
    request = RunRequest(path="runs/a", model="net.py:make", model_kwargs={"n": 3}, layers=["net.1"], max_samples=50,
                         trust_pickle=True, cache_dir="/tmp/c")  # fmt: skip
    data = request.to_dict()
    assert data == {"path": "runs/a", "model": "net.py:make", "model_kwargs": {"n": 3}, "layers": ["net.1"],
                    "max_samples": 50, "sequence_pool": "mean", "feature_maps": "flatten"}  # fmt: skip
    again = RunRequest.from_dict(data)
    assert again.layers == ("net.1",) and again.trust_pickle is False
    with pytest.raises(IBViewerError, match="Unknown run option"):
        RunRequest.from_dict({**data, "trust_pickle": True})
    with pytest.raises(IBViewerError, match="layer names"):
        RunRequest(path="x", layers="net.1")
    with pytest.raises(IBViewerError, match="JSON object"):
        RunRequest(path="x", model_kwargs=[1, 2])
