"""t-SNE: partial layouts while it runs, a prompt stop when cancelled, parameters adapted to small data."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.embedding import PartialEmbedding, embed, embed_layers
from ibviewer.core.progress import RecordingProgress
from ibviewer.errors import Cancelled
from tests.core.embedding.data import FAST_TSNE, blobs, layered_acts


def test_cancellation_stops_tsne_at_the_next_callback():
    x, _ = blobs(n=600)
    progress = RecordingProgress(cancel_after=2)  # the 2nd update is the first callback, at iteration 10
    with pytest.raises(Cancelled):
        embed(x, "tsne", 2, progress=progress, n_iter=5000, early_exaggeration_iter=250, callbacks_every_iters=10)
    # openTSNE stopped at the callback that saw the cancel: nothing ran or was reported after it
    assert [p.iteration for p in progress.partials] == [10]
    assert isinstance(progress.partials[-1], PartialEmbedding)
    assert progress.partials[-1].n_iter == 5250 and progress.partials[-1].coords.shape == (600, 2)
    assert progress.updates == [(0.0, "nearest neighbours"), (10 / 5250, "iteration 10 of 5250")]


def test_partials_follow_the_optimisation():
    x, _ = blobs(n=150)
    progress = RecordingProgress()
    coords = embed(x, "tsne", 2, progress=progress, max_points=100, callbacks_every_iters=20, **FAST_TSNE)
    assert [p.iteration for p in progress.partials] == [20, 40, 70, 90, 110, 130, 150]
    last = progress.partials[-1]
    assert last.n_iter == 150 and len(last.embedded_idx) == 100 and last.coords.shape == (100, 2)
    assert np.isfinite(coords).all() and coords.shape == (150, 2)
    # placing the other 50 points posts no partial of the subset's shape and no iteration counts
    assert progress.updates[-1] == (1.0, "placing the other 50 points")


class CancelAtCheck(RecordingProgress):
    """Asks to stop at the n-th check (RecordingProgress counts updates instead)."""

    def __init__(self, n_checks: int) -> None:
        super().__init__()
        self.n_checks = n_checks

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks >= self.n_checks:
            raise Cancelled()


def test_a_cancel_while_placing_the_rest_stops_and_caches_nothing(tmp_path):
    acts = layered_acts(n=150, n_layers=1)
    settings = {"max_points": 100, "callbacks_every_iters": 20, **FAST_TSNE}
    # checks: before the panel, after the neighbours, at 7 callbacks, before placing; the 11th is in the placing
    progress = CancelAtCheck(11)
    with pytest.raises(Cancelled):
        embed_layers(acts, method="tsne", progress=progress, cache_dir=tmp_path, **settings)
    assert progress.checks == 11
    assert not list(tmp_path.glob("embeddings/*.npz"))  # no half-placed panel in the cache


def test_perplexity_too_large_is_adapted_with_a_warning():
    x, _ = blobs(n=20)
    with pytest.warns(UserWarning, match="perplexity 30 is too large for 20 points"):
        coords = embed(x, "tsne", 2, **FAST_TSNE)
    assert coords.shape == (20, 2) and np.isfinite(coords).all()
    acts = layered_acts(n=20, n_layers=1)
    with pytest.warns(UserWarning, match="perplexity"):
        result = embed_layers(acts, method="tsne", use_cache=False, **FAST_TSNE)
    assert result.get(1, "l0").params["perplexity"] == pytest.approx(6.33)


def test_the_gradient_method_is_resolved_and_recorded():
    acts = layered_acts(n=60, n_layers=1)
    result = embed_layers(acts, method="tsne", dims=3, use_cache=False, faithfulness=False, perplexity=10.0, **FAST_TSNE)
    assert result.get(1, "l0").params["negative_gradient_method"] == "bh"  # never FFT in 3-D
