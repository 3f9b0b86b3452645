"""Keeping panels comparable: which panel each aligns to, Procrustes, and AlignedUMAP.

Three ways (``alignment``): ``init`` starts each t-SNE/UMAP from its reference panel's
layout and then rotates onto it, ``procrustes`` only rotates, ``aligned_umap`` embeds the
whole sequence at once with umap-learn's AlignedUMAP; `plan_panels` decides the order and
each panel's reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from ibviewer.core.embedding import umap as umap_method
from ibviewer.core.embedding.checks import MIN_SAMPLES_NONLINEAR, as_activations, warn
from ibviewer.core.embedding.faithfulness import faithfulness
from ibviewer.core.embedding.preprocessing import preprocess, reduce_dims, subset
from ibviewer.core.embedding.results import LayerEmbedding
from ibviewer.core.embedding.spec import EmbeddingSpec
from ibviewer.core.progress import Progress
from ibviewer.core.types import ActivationSet, FloatArray, IntArray
from ibviewer.errors import EstimatorError

__all__ = ["Panel", "procrustes_align", "plan_panels", "aligned_umap_panels", "place_by_neighbors"]

Panel = tuple[int, str]  # (epoch, layer)


def procrustes_align(coords: np.ndarray, reference: np.ndarray) -> FloatArray:
    """Rotate/reflect ``coords`` onto ``reference`` (orthogonal Procrustes, no scaling).

    Parameters
    ----------
    coords, reference : ndarray
        (n_samples, dims) layouts of the same samples.

    Returns
    -------
    ndarray of float32
        ``coords`` centred, rotated (flips allowed) to best match the centred reference,
        then moved to the reference's centre. Unchanged when either layout is collapsed.
    """
    a = np.asarray(coords, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - mean_a, b - mean_b
    if not (np.abs(a0).max() > 0 and np.abs(b0).max() > 0):
        return np.asarray(coords, dtype=np.float32)
    u, _, vt = np.linalg.svd(a0.T @ b0)
    return (a0 @ (u @ vt) + mean_b).astype(np.float32)


def plan_panels(epochs: tuple[int, ...], layers: tuple[str, ...], alignment: str) -> list[tuple[Panel, Panel | None]]:
    """Panels in computing order, each with the panel it is aligned to.

    The last epoch comes first, its layers in network order, each aligned to the layer
    before; every earlier epoch then aligns each layer to the same layer one chosen
    epoch later, so panels stay in place along both the layer and the epoch axes.
    For AlignedUMAP the order is a snake (epochs ascending, layer direction alternating)
    so consecutive panels are always grid neighbours.
    """
    if alignment == "aligned_umap":
        order: list[Panel] = []
        for i, epoch in enumerate(epochs):
            for layer in layers if i % 2 == 0 else tuple(reversed(layers)):
                order.append((epoch, layer))
        return [(panel, order[j - 1] if j else None) for j, panel in enumerate(order)]
    plan: list[tuple[Panel, Panel | None]] = []
    later: int | None = None
    for epoch in reversed(epochs):
        for j, layer in enumerate(layers):
            if later is not None:
                ref: Panel | None = (later, layer)
            else:
                ref = (epoch, layers[j - 1]) if j else None
            plan.append(((epoch, layer), ref if alignment != "none" else None))
        later = epoch
    return plan


def aligned_umap_panels(
    acts: ActivationSet, panels: list[Panel], spec: EmbeddingSpec, progress: Progress
) -> Iterator[tuple[Panel, LayerEmbedding]]:
    """Embed ``panels`` (in `plan_panels` order) with one AlignedUMAP; yield each as it is finished.

    Every panel embeds the same seeded subset (``spec.max_points``); the other points sit at
    the median of their nearest embedded neighbours. umap-learn reports nothing while it
    fits, so cancellation is checked before and after the fit only.
    """
    umap = umap_method.import_umap()
    progress.update(0.0, f"AlignedUMAP: preparing {len(panels)} panels")
    features, reduced = [], []
    for epoch, layer in panels:
        array = as_activations(acts.layer(layer, epoch))
        features.append(preprocess(array, spec.preprocessing))  # type: ignore[arg-type]
        reduced.append(reduce_dims(features[-1], spec.pca_dims, spec.seed))
    n = features[0].shape[0]
    if n < MIN_SAMPLES_NONLINEAR:
        raise EstimatorError(f"UMAP needs at least {MIN_SAMPLES_NONLINEAR} samples, got {n}; use method='pca'.")
    embedded_idx = subset(n, spec.max_points, spec.seed)
    resolved = {**umap_method.DEFAULTS, **spec.params}
    kwargs = umap_method.umap_kwargs(resolved, len(embedded_idx), spec.dims, spec.seed, "")
    resolved["n_neighbors"] = kwargs["n_neighbors"]
    kwargs.pop("n_components")
    relations = [{i: i for i in range(len(embedded_idx))} for _ in range(len(panels) - 1)]
    mapper = umap.AlignedUMAP(
        n_components=spec.dims,
        alignment_regularisation=resolved["alignment_regularisation"],
        alignment_window_size=resolved["alignment_window_size"],
        **kwargs,
    )
    progress.update(0.05, f"AlignedUMAP: fitting {len(panels)} panels (no progress until done)")
    progress.check_cancelled()
    with warnings.catch_warnings():
        # AlignedUMAP builds UMAPs with n_jobs=-1 and our random_state; they warn and run single-threaded
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        mapper.fit([r[embedded_idx] for r in reduced], relations=relations)
    progress.check_cancelled()
    for i, panel in enumerate(panels):
        coords = np.zeros((n, spec.dims), dtype=np.float32)
        sub = np.asarray(mapper.embeddings_[i], dtype=np.float32)
        lost = ~np.isfinite(sub).all(axis=1)
        if lost.any():  # AlignedUMAP sets points disconnected from the graph to NaN
            warn(f"layer {panel[1]}: {int(lost.sum())} points were disconnected from UMAP's graph; drawn at the centre.")
            sub[lost] = np.nanmean(sub[~lost], axis=0) if (~lost).any() else 0.0
        coords[embedded_idx] = sub
        place_by_neighbors(reduced[i], embedded_idx, coords)
        trust, overlap = (None, None)
        if spec.faithfulness:
            progress.update(0.9 + 0.1 * i / len(panels), f"AlignedUMAP: faithfulness of {panel[1]}")
            trust, overlap = faithfulness(features[i], coords, str(resolved["metric"]), spec.seed)
        yield panel, LayerEmbedding(
            layer=panel[1],
            epoch=panel[0],
            coords=coords,
            method="umap",
            dims=spec.dims,
            params={**resolved, **spec.recorded_settings()},
            seed=spec.seed,
            embedded_idx=embedded_idx,
            trustworthiness=trust,
            knn_overlap=overlap,
            n_features=int(features[i].shape[1]),
        )


def place_by_neighbors(reduced: FloatArray, embedded_idx: IntArray, coords: FloatArray, k: int = 10) -> None:
    """Put the rows not in ``embedded_idx`` at the median position of their k nearest embedded rows."""
    from sklearn.neighbors import NearestNeighbors

    n = reduced.shape[0]
    if len(embedded_idx) == n:
        return
    rest = np.setdiff1d(np.arange(n), embedded_idx)
    nn = NearestNeighbors(n_neighbors=min(k, len(embedded_idx))).fit(reduced[embedded_idx])
    _, idx = nn.kneighbors(reduced[rest])
    coords[rest] = np.median(coords[embedded_idx][idx], axis=1)
