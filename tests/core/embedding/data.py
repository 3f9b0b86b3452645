"""Data made in the tests of the embedding package: clusters, and a run of layers that reshape them."""

from __future__ import annotations

import numpy as np

from ibviewer.core.embedding import EmbeddingSet
from ibviewer.core.types import ActivationSet, LayerInfo

FAST_TSNE = {"n_iter": 100, "early_exaggeration_iter": 50}


def blobs(n: int = 240, dim: int = 12, n_classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    centres = rng.normal(size=(n_classes, dim)) * 4
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels.astype(np.int64)


def layered_acts(n: int = 240, n_layers: int = 4, n_epochs: int = 1, seed: int = 0) -> ActivationSet:
    """Clusters pushed through a random tanh network: every layer re-shapes them differently."""
    rng = np.random.default_rng(seed)
    x, labels = blobs(n, 12, seed=seed)
    h = x.astype(np.float64)
    values, infos = {}, []
    for i in range(n_layers):
        w = rng.normal(size=(h.shape[1], 16)) / np.sqrt(h.shape[1])
        h = np.tanh(h @ w * 0.7) * 3
        per_epoch = [h * (0.6 + 0.4 * (e + 1) / n_epochs) + 0.05 * rng.normal(size=h.shape) for e in range(n_epochs)]
        values[f"l{i}"] = np.stack(per_epoch).astype(np.float32)
        infos.append(LayerInfo(f"l{i}", "Tanh", (16,), 16))
    epochs = tuple(range(1, n_epochs + 1))
    return ActivationSet(tuple(infos), epochs, values, labels, np.arange(n, dtype=np.int64), key=f"test{seed}")


def mean_displacement(result: EmbeddingSet) -> float:
    """Mean distance a point moves between consecutive panels, each scaled to unit RMS radius."""
    panels = [e.coords.astype(np.float64) for e in result.embeddings.values()]
    normed = [(p - p.mean(0)) / np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()) for p in panels]
    return float(np.mean([np.linalg.norm(a - b, axis=1).mean() for a, b in zip(normed, normed[1:])]))
