"""core/pipeline.py: the jobs both front ends run, their stage results, seeds and sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.pipeline import (
    SENSITIVITY_BINS,
    SENSITIVITY_WIDTH,
    StageResult,
    embed_keyframes,
    estimator_sensitivity,
    open_and_extract,
    probe_epochs,
    run_analysis,
)
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import Cancelled, IBViewerError


def _acts(n: int = 200, seed: int = 0) -> ActivationSet:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    first = np.tanh(rng.normal(size=(2, n, 4)) + labels[None, :, None])
    second = np.tanh(first[..., :2] * 2)
    values = {"a": first.astype(np.float32), "b": second.astype(np.float32)}
    layers = tuple(LayerInfo(name, "Tanh", (v.shape[2],), v.shape[2]) for name, v in values.items())
    return ActivationSet(layers, (0, 5), values, labels.astype(np.int64), np.arange(n), f"toy{seed}")


def test_run_analysis_posts_each_stage_as_it_finishes_and_returns_them():
    acts = _acts()
    progress = RecordingProgress()
    result = run_analysis(acts, AnalysisSettings(method="pca"), epochs=(5,), progress=progress, use_cache=False)
    stages = [p.stage for p in progress.partials if isinstance(p, StageResult)]
    assert stages == ["infoplane", "probes"]
    panels = [p for p in progress.partials if getattr(p, "method", None) == "pca"]
    assert {(p.epoch, p.layer) for p in panels} == {(5, "a"), (5, "b")}
    assert result.infoplane.i_xt.shape == (2, 2) and result.probes.epochs == (5,)
    assert set(result.embeddings.embeddings) == {(5, "a"), (5, "b")}
    fractions = [f for f, _ in progress.updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # one bar that never goes back


def test_the_preview_posts_pca_first_and_returns_the_chosen_method():
    acts = _acts(n=120)
    progress = RecordingProgress()
    settings = AnalysisSettings(method="tsne", perplexity=10.0)
    result = run_analysis(acts, settings, epochs=(5,), stages={"embeddings"}, preview=True, progress=progress, use_cache=False)
    methods = [p.method for p in progress.partials if hasattr(p, "method") and hasattr(p, "embedded_idx") and not hasattr(p, "iteration")]
    assert methods[:2] == ["pca", "pca"] and methods[-1] == "tsne"
    assert {e.method for e in result.embeddings.embeddings.values()} == {"tsne"}
    assert result.infoplane is None and result.probes is None


def test_keyframes_with_a_preview_post_every_pca_panel_before_any_t_sne_panel():
    acts = _acts(n=120)
    progress = RecordingProgress()
    settings = AnalysisSettings(method="tsne", perplexity=10.0)
    result = embed_keyframes(acts, settings, (0, 5), preview=True, faithfulness=False, use_cache=False, progress=progress)
    finals = [p for p in progress.partials if hasattr(p, "method") and not hasattr(p, "iteration")]
    methods = [p.method for p in finals]
    assert methods == ["pca"] * 4 + ["tsne"] * 4  # 2 epochs x 2 layers each, the preview first
    assert {(p.epoch, p.layer) for p in finals[:4]} == {(e, layer) for e in (0, 5) for layer in ("a", "b")}
    assert result.method == "tsne" and set(result.embeddings) == {(e, layer) for e in (0, 5) for layer in ("a", "b")}
    fractions = [f for f, _ in progress.updates]
    assert fractions == sorted(fractions)  # the preview's share comes first on one bar


def test_stage_subsets_and_bad_requests():
    acts = _acts()
    only = run_analysis(acts, AnalysisSettings(), epochs=(0,), stages={"infoplane"}, use_cache=False)
    assert only.embeddings is None and only.probes is None and only.infoplane is not None
    with pytest.raises(IBViewerError, match="not saved"):
        run_analysis(acts, AnalysisSettings(), epochs=(3,))
    with pytest.raises(IBViewerError, match="Unknown analysis stage"):
        run_analysis(acts, AnalysisSettings(), epochs=(0,), stages={"pictures"})
    with pytest.raises(Cancelled):
        run_analysis(acts, AnalysisSettings(method="pca"), epochs=(0,), progress=RecordingProgress(cancel_after=1), use_cache=False)


def test_probes_are_seeded_by_the_settings_seed_wherever_they_run():
    acts = _acts()
    a = probe_epochs(acts, AnalysisSettings(seed=1), (5,))
    b = run_analysis(acts, AnalysisSettings(seed=1, method="pca"), epochs=(5,), stages={"probes"}).probes
    np.testing.assert_array_equal(a.linear_acc, b.linear_acc)
    np.testing.assert_array_equal(a.knn_acc, b.knn_acc)


def test_sensitivity_flags_saturation_from_the_estimator_not_from_warning_text():
    rng = np.random.default_rng(1)
    n = 128
    labels = rng.integers(0, 2, n)
    # layer "a": 128 values 0.0156 apart in [-1, 1]: 200 bins (0.01 wide) give every sample its own bin
    spread = np.linspace(-0.99, 0.99, n).astype(np.float32)[:, None]
    values = {"a": np.stack([spread, spread])}
    acts = ActivationSet((LayerInfo("a", "Tanh", (1,), 1),), (0, 1), values, labels, np.arange(n), "sweep")
    result = estimator_sensitivity(acts, "a", 1, AnalysisSettings())
    assert result.values.tolist() == list(SENSITIVITY_BINS) and result.parameter == "n_bins"
    # saturated exactly where I(X;T) reaches log2(N)
    np.testing.assert_array_equal(result.saturated, np.isclose(result.i_xt, np.log2(n)))
    assert result.saturated[-1] and not result.saturated[0]
    kde = estimator_sensitivity(acts, "a", 1, AnalysisSettings(estimator="kde"))
    assert kde.parameter == "noise_var" and len(kde.values) == len(kde.i_xt)
    renyi = estimator_sensitivity(acts, "a", 1, AnalysisSettings(estimator="renyi"))
    assert renyi.parameter == "width_factor"
    np.testing.assert_allclose(renyi.values, 0.35 * np.array(SENSITIVITY_WIDTH))
    # no inputs: I(X;T) = S(T), which a wider kernel can only lower (alpha = 2)
    assert (np.diff(renyi.i_xt) < 0).all() and renyi.i_xt[0] > 4 and renyi.i_xt[-1] < 0.1
    fixed = estimator_sensitivity(acts, "a", 1, AnalysisSettings(estimator="renyi", kernel_width=0.1))
    assert fixed.parameter == "kernel_width"
    np.testing.assert_allclose(fixed.values, 0.1 * np.array(SENSITIVITY_WIDTH))
    with pytest.raises(IBViewerError, match="not among"):
        estimator_sensitivity(acts, "zz", 1, AnalysisSettings())


def test_open_and_extract_follows_the_request(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    opened = open_and_extract(RunRequest(path=str(folder), model=spec, dataset="ib12", max_samples=100, layers=("1",), trust_factory=True))
    assert opened.activations.layer_names == ("1",) and opened.activations.n_samples == 100
    # the samples' inputs travel with the activations: the X of renyi's I(X;T)
    np.testing.assert_array_equal(opened.activations.inputs, opened.run.dataset.x[opened.activations.sample_idx])
    assert opened.run.epochs == (1, 5, 20)
