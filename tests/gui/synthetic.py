"""Small in-memory activation sets, embeddings and word runs for the GUI tests (views fed through AppState)."""

from __future__ import annotations

import numpy as np

from ibviewer.core.embedding import LayerEmbedding
from ibviewer.core.types import ActivationSet, LayerInfo

LAYERS = ("fc1", "fc2", "fc3")
EPOCHS = (1, 5, 20)
N_PER_CLASS = 20
N_CLASSES = 3


class FakeRun:
    """What views read from a run: name, dataset (None) and per-epoch metrics."""

    def __init__(self, metrics: dict[int, dict[str, float]] | None = None) -> None:
        self.name = "synthetic"
        self.dataset = None
        self.metrics = metrics if metrics is not None else {
            1: {"loss": 1.0, "train_acc": 0.4, "test_acc": 0.35},
            5: {"loss": 0.5, "train_acc": 0.8, "test_acc": 0.7},
            20: {"loss": 0.1, "train_acc": 0.99, "test_acc": 0.9},
        }


def make_activations(seed: int = 0, n_per_class: int = N_PER_CLASS) -> ActivationSet:
    """Three classes as Gaussian clusters that separate more in later layers and epochs."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(N_CLASSES), n_per_class).astype(np.int64)
    n = labels.size
    dims = {"fc1": 8, "fc2": 6, "fc3": 4}
    values = {}
    for k, layer in enumerate(LAYERS):
        centres = rng.normal(size=(N_CLASSES, dims[layer])) * 3
        per_epoch = []
        for e, _ in enumerate(EPOCHS):
            spread = (k + 1) * (e + 1) / 3
            per_epoch.append(np.tanh(0.3 * (centres[labels] * spread + rng.normal(size=(n, dims[layer])))))
        values[layer] = np.stack(per_epoch).astype(np.float32)
    layers = tuple(LayerInfo(name, name, (dims[name],), dims[name]) for name in LAYERS)
    return ActivationSet(layers, EPOCHS, values, labels, np.arange(n, dtype=np.int64), key=f"synthetic-{seed}-{n}")


def cluster_coords(labels: np.ndarray, dims: int, offset: float, seed: int) -> np.ndarray:
    """Well separated class clusters (one per label) with small jitter: every point is easy to pick."""
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0], [-10.0, -10.0, 0]])[:, :dims]
    n = labels.size
    jitter = rng.uniform(-3.0, 3.0, size=(n, dims))
    return (centres[labels] + jitter + offset).astype(np.float32)


def make_embedding(acts: ActivationSet, layer: str, epoch: int, dims: int = 3, method: str = "pca") -> LayerEmbedding:
    seed = 100 * EPOCHS.index(epoch) + LAYERS.index(layer)
    coords = cluster_coords(acts.labels, dims, offset=float(EPOCHS.index(epoch)), seed=seed)
    overlap = np.linspace(0.0, 1.0, acts.n_samples).astype(np.float32)
    return LayerEmbedding(
        layer=layer, epoch=epoch, coords=coords, method=method, dims=dims, params={}, seed=0,
        embedded_idx=np.arange(acts.n_samples), trustworthiness=0.9, knn_overlap=overlap, n_features=4,
    )  # fmt: skip


def make_state(dims: int = 3, epochs=EPOCHS, metrics=None, attach=None):
    """An AppState with the synthetic run open and (PCA) embeddings of every layer at ``epochs``.

    Its settings ask for PCA, so those embeddings are final. ``attach(state)`` is called
    before the run opens, so views built there see it open.
    """
    from ibviewer.core.config import AnalysisSettings
    from ibviewer.gui.state import AppState

    acts = make_activations()
    state = AppState()
    state.settings = AnalysisSettings(method="pca", dims=dims)
    if attach is not None:
        attach(state)
    state.set_run(FakeRun(metrics), acts)
    for epoch in epochs:
        for layer in LAYERS:
            state.set_embedding(epoch, layer, make_embedding(acts, layer, epoch, dims))
    return state


QUERY_WORDS = tuple(f"query{g:02d}" for g in range(16))


class WordRun(FakeRun):
    """A run whose dataset carries words, with the 16 query words in ``extra`` (as the word_lm sample)."""

    def __init__(self, dataset) -> None:
        super().__init__({})
        self.dataset = dataset
        self.extra = {"query_words": list(QUERY_WORDS)}


def make_word_state(n_per_query: int = 12, seed: int = 0, untrained: bool = False):
    """AppState with a synthetic text run: 16 query words, each with a cloud of related words, 3 layers.

    ``untrained`` adds an epoch 0 before epoch 3 where every layer is noise (the word experiment's control).
    """
    from ibviewer.core.types import Dataset
    from ibviewer.gui.state import AppState

    rng = np.random.default_rng(seed)
    n_groups = len(QUERY_WORDS)
    words = list(QUERY_WORDS)
    groups = list(range(n_groups))
    for g in range(n_groups):
        for j in range(n_per_query):
            words.append(f"w{g:02d}_{j:02d}")
            groups.append(g)
    groups_arr = np.array(groups)
    n = len(words)
    values, layers = {}, []
    for k, (name, dim) in enumerate((("embed", 12), ("act1", 10), ("act2", 8))):
        centres = rng.normal(size=(n_groups, dim)) * (2 + 2 * k)
        x = centres[groups_arr] + rng.normal(size=(n, dim))
        values[name] = (np.stack([rng.normal(size=(n, dim)), x]) if untrained else x[None]).astype(np.float32)
        layers.append(LayerInfo(name, name, (dim,), dim))
    labels = (groups_arr % 4).astype(np.int64)
    dataset = Dataset("words", "words", "tokens", np.arange(n)[:, None], labels, words=tuple(words))
    epochs = (0, 3) if untrained else (3,)
    acts = ActivationSet(tuple(layers), epochs, values, labels, np.arange(n, dtype=np.int64), key=f"words-{seed}-{untrained}")
    state = AppState()
    state.set_run(WordRun(dataset), acts)
    return state


def require_opengl() -> None:
    """Skip the calling test where the Qt platform has no OpenGL (offscreen); under Xvfb it runs."""
    import pytest

    from ibviewer.gui.widgets.grab import opengl_available

    ok, reason = opengl_available()
    if not ok:
        pytest.skip(reason)
