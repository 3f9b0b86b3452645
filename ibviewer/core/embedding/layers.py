"""Embed a run's layers and epochs: plan the panels, reuse cached ones, post each as it is done.

`embed_layers` checks its settings once into an `EmbeddingSpec`, plans the panels
(`alignment.plan_panels`), and embeds them in that order: each panel with
`representation.embed_representation` aligned to its reference panel, or the whole
sequence with AlignedUMAP. Every finished panel goes to the disk cache and to
``progress.partial``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ibviewer.core.cache import DiskCache, hash_arrays, hash_json
from ibviewer.core.embedding.alignment import Panel, aligned_umap_panels, plan_panels, procrustes_align
from ibviewer.core.embedding.faithfulness import faithfulness
from ibviewer.core.embedding.preprocessing import Handoff, Preprocessing
from ibviewer.core.embedding.representation import embed_representation
from ibviewer.core.embedding.results import EmbeddingSet, LayerEmbedding
from ibviewer.core.embedding.spec import DEFAULT_ALIGNMENT, Alignment, EmbeddingSpec, Method
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet
from ibviewer.errors import ActivationError, EstimatorError

__all__ = ["embed_layers", "embed_panel", "select_epochs", "select_layers"]

_CACHE_VERSION = 1

Plan = list[tuple[Panel, Panel | None]]  # panels in computing order, each with its reference


def embed_layers(
    acts: ActivationSet,
    *,
    epochs: Sequence[int] | str | int | None = None,
    layers: Sequence[str] | str | None = None,
    method: Method = "pca",
    dims: int = 2,
    seed: int = 0,
    alignment: Alignment = DEFAULT_ALIGNMENT,
    preprocessing: Preprocessing = "none",
    pca_dims: int | str | None = "auto",
    max_points: int | None = None,
    faithfulness: bool = True,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
    **params: Any,
) -> EmbeddingSet:
    """Embed every chosen layer at every chosen epoch, aligned so panels are comparable.

    Parameters
    ----------
    acts : ActivationSet
    epochs : "last", "all", int or sequence of int, optional
        Default: the last saved epoch only.
    layers : sequence of str, optional
        Default: every layer, in network order.
    method : {"pca", "tsne", "umap"}, default="pca"
    dims : {2, 3}, default=2
    seed : int, default=0
    alignment : {"init", "procrustes", "aligned_umap", "none"}, default="init"
        ``init``: each t-SNE/UMAP starts from the neighbouring panel's layout (the previous
        layer; for earlier epochs the same layer one epoch later), then a Procrustes
        rotation/flip onto it; for PCA only the Procrustes step. Keeps points in place far
        better than ``procrustes``. A t-SNE panel of the same layer at an earlier epoch is a
        warm start: it optimises on from the later epoch's layout, skips early exaggeration,
        stops when the layout settles and reuses the affinities when the layer barely moved,
        so playback keyframes cost a fraction of the first epoch.
        ``procrustes``: independent embeddings, then rotated/flipped onto the neighbour.
        ``aligned_umap``: one umap-learn AlignedUMAP over the sequence (UMAP only, slower).
        ``none``: independent embeddings.
    preprocessing : {"none", "center", "standardize", "l2"}, default="none"
    pca_dims : int, "auto" or None, default="auto"
        PCA to this many dimensions before t-SNE/UMAP; ``"auto"``: 50 for layers wider than
        100 features; None: never.
    max_points : int, optional
        Embed the same seeded subset of this size in every panel and place the rest afterwards.
        By default every point up to 50,000 (`preprocessing.AUTO_MAX_POINTS`), a subset of that
        size above it; each panel says so (`LayerEmbedding.subset_note`).
    faithfulness : bool, default=True
        Compute trustworthiness and per-point k-NN overlap (k=10).
    progress : Progress
        Messages like "t-SNE: layer 3 of 5 (fc3)"; ``partial`` receives each finished
        :class:`LayerEmbedding` (and t-SNE's :class:`PartialEmbedding` while it runs).
    cache_dir : path, optional
        Cache root (see :func:`ibviewer.core.cache.cache_root`).
    use_cache : bool, default=True
        Read and write ``DiskCache("embeddings")``: one entry per panel keyed by the panel's
        activation bytes, method, parameters, dims, seed, alignment and the key of the
        panel it is aligned to.
    **params
        Method parameters, as for :func:`embed`.

    Returns
    -------
    EmbeddingSet

    Raises
    ------
    EstimatorError, ActivationError
        As :func:`embed`; unknown epochs/layers; ``aligned_umap`` with another method.
    Cancelled
        ``progress`` asked to stop (finished panels stay cached).
    """
    spec = EmbeddingSpec(
        method=method,
        dims=dims,
        seed=seed,
        params=params,
        preprocessing=preprocessing,
        pca_dims=pca_dims,
        max_points=max_points,
        alignment=alignment,
        faithfulness=faithfulness,
    )
    chosen_epochs = select_epochs(acts, epochs)
    chosen_layers = select_layers(acts, layers)
    plan = plan_panels(chosen_epochs, chosen_layers, alignment)
    keys = _cache_keys(acts, plan, spec)
    cache = DiskCache("embeddings", cache_dir, enabled=use_cache)
    if alignment == "aligned_umap":
        results = _embed_sequence(acts, plan, keys, cache, spec, progress)
    else:
        results = _embed_chain(acts, plan, keys, cache, spec, progress, (chosen_epochs, chosen_layers))
    ordered = {(e, layer): results[(e, layer)] for e in chosen_epochs for layer in chosen_layers}
    return EmbeddingSet(
        method=method,
        dims=dims,
        seed=seed,
        params={**params, "preprocessing": preprocessing, "pca_dims": pca_dims, "max_points": max_points},
        alignment=alignment,
        epochs=chosen_epochs,
        layers=chosen_layers,
        embeddings=ordered,
    )


def _embed_chain(
    acts: ActivationSet,
    plan: Plan,
    keys: dict[Panel, str],
    cache: DiskCache,
    spec: EmbeddingSpec,
    progress: Progress,
    chosen: tuple[tuple[int, ...], tuple[str, ...]],
) -> dict[Panel, LayerEmbedding]:
    """Each panel in plan order: from the cache, or embedded from its reference panel's layout."""
    results: dict[Panel, LayerEmbedding] = {}
    handoffs: dict[Panel, Handoff] = {}  # what a method left for the panels that follow its panel
    waiting = Counter(ref for _, ref in plan if ref is not None)  # panels still to start from each panel
    n_panels = len(plan)
    for i, (panel, ref) in enumerate(plan):
        progress.check_cancelled()
        where = _where(panel, *chosen)
        progress.update(i / n_panels, f"{spec.title}: {where}")
        entry = cache.get(keys[panel])
        if entry is not None:
            result = _from_cache(entry, panel)
        else:
            sub = SubProgress(progress, i / n_panels, (i + 1) / n_panels, prefix=f"{spec.title}: {where}: ")
            reference = results.get(ref) if ref else None
            result, handoffs[panel] = _embed_panel(acts, panel, reference, spec, sub, handoffs.get(ref) if ref else None)
            _to_cache(cache, keys[panel], result)
        if ref is not None:
            waiting[ref] -= 1
            if waiting[ref] == 0:
                handoffs.pop(ref, None)  # affinities are large: keep them only while a panel may reuse them
        results[panel] = result
        progress.partial(result)
    progress.update(1.0, f"{spec.title}: {n_panels} panel(s) done")
    return results


def embed_panel(
    acts: ActivationSet, panel: Panel, reference: LayerEmbedding | None, spec: EmbeddingSpec, progress: Progress
) -> LayerEmbedding:
    """Embed one (epoch, layer) panel, aligned to ``reference`` (the panel it follows), with its faithfulness.

    With ``alignment="init"`` a reference of the same layer at another epoch is a warm start
    (see `EmbeddingSpec`): t-SNE optimises on from its layout without early exaggeration.
    """
    return _embed_panel(acts, panel, reference, spec, progress, None)[0]


def _embed_panel(
    acts: ActivationSet,
    panel: Panel,
    reference: LayerEmbedding | None,
    spec: EmbeddingSpec,
    progress: Progress,
    previous: Handoff | None,
) -> tuple[LayerEmbedding, Handoff | None]:
    epoch, layer = panel
    x = acts.layer(layer, epoch)
    init = reference.coords if (reference is not None and spec.alignment == "init") else None
    warm = init is not None and reference is not None and reference.layer == layer and reference.epoch != epoch
    out = embed_representation(
        x, spec, SubProgress(progress, 0.0, 0.9), init, layer, epoch, warm=warm, previous=previous
    )  # fmt: skip
    coords = out.coords
    if reference is not None and not out.constant:
        coords = procrustes_align(coords, reference.coords)
    trust, overlap = (None, None)
    if spec.faithfulness and not out.constant:
        progress.update(0.9, "faithfulness")
        trust, overlap = faithfulness(out.features, coords, str(out.params.get("metric", "euclidean")), spec.seed)
    progress.update(1.0, "done")
    result = LayerEmbedding(
        layer=layer,
        epoch=epoch,
        coords=coords,
        method=spec.method,
        dims=spec.dims,
        params={**spec.recorded_settings(), **out.params},  # the method's effective pca_dims/max_points win
        seed=spec.seed,
        embedded_idx=out.embedded_idx,
        trustworthiness=trust,
        knn_overlap=overlap,
        n_features=int(x.shape[1]),
    )
    return result, out.handoff


def _embed_sequence(
    acts: ActivationSet, plan: Plan, keys: dict[Panel, str], cache: DiskCache, spec: EmbeddingSpec, progress: Progress
) -> dict[Panel, LayerEmbedding]:
    """AlignedUMAP fits the whole sequence at once: all from the cache, or all computed again."""
    panels = [panel for panel, _ in plan]
    entries = {panel: cache.get(keys[panel]) for panel in panels}
    results: dict[Panel, LayerEmbedding] = {}
    if all(entry is not None for entry in entries.values()):
        results = {panel: _from_cache(entry, panel) for panel, entry in entries.items() if entry is not None}
        for panel in panels:
            progress.partial(results[panel])
        return results
    for panel, result in aligned_umap_panels(acts, panels, spec, progress):
        _to_cache(cache, keys[panel], result)
        results[panel] = result
        progress.partial(result)
    progress.update(1.0, f"AlignedUMAP: {len(panels)} panel(s) done")
    return results


def _cache_keys(acts: ActivationSet, plan: Plan, spec: EmbeddingSpec) -> dict[Panel, str]:
    """One key per panel: its activations' bytes, the settings, and the key of its reference panel.

    A panel depends on the panel it was aligned to, so chaining the keys invalidates a panel
    whenever anything before it changed. AlignedUMAP panels depend on the whole sequence.
    """
    settings = {"v": _CACHE_VERSION, **spec.cache_settings()}
    panel_hash = {panel: hash_arrays([acts.layer(panel[1], panel[0])]) for panel, _ in plan}
    keys: dict[Panel, str] = {}
    for panel, ref in plan:
        if spec.alignment == "aligned_umap":
            sequence = [panel_hash[p] for p, _ in plan]
            keys[panel] = hash_json({**settings, "x": sequence, "position": [p for p, _ in plan].index(panel)})
        else:
            keys[panel] = hash_json({**settings, "x": panel_hash[panel], "ref": keys[ref] if ref else None})
    return keys


def _from_cache(entry: tuple[dict[str, np.ndarray], dict[str, Any]], panel: Panel) -> LayerEmbedding:
    arrays, meta = entry
    return LayerEmbedding(
        layer=panel[1],
        epoch=panel[0],
        coords=arrays["coords"].astype(np.float32),
        method=meta["method"],
        dims=int(meta["dims"]),
        params=dict(meta["params"]),
        seed=int(meta["seed"]),
        embedded_idx=arrays["embedded_idx"].astype(np.int64),
        trustworthiness=meta.get("trustworthiness"),
        knn_overlap=arrays["knn_overlap"].astype(np.float32) if "knn_overlap" in arrays else None,
        n_features=int(meta.get("n_features", 0)),
        cached=True,
    )


def _to_cache(cache: DiskCache, key: str, result: LayerEmbedding) -> None:
    arrays = {"coords": result.coords, "embedded_idx": result.embedded_idx}
    if result.knn_overlap is not None:
        arrays["knn_overlap"] = result.knn_overlap
    meta = {
        "method": result.method,
        "dims": result.dims,
        "params": result.params,
        "seed": result.seed,
        "trustworthiness": result.trustworthiness,
        "n_features": result.n_features,
    }
    cache.put(key, arrays, meta)


def select_epochs(acts: ActivationSet, epochs: Sequence[int] | str | int | None) -> tuple[int, ...]:
    """Saved epochs named by None/"last" (the last), "all", an int or a list, in training order."""
    if not acts.epochs:
        raise ActivationError("The activation set holds no epochs.")
    if epochs is None or epochs == "last":
        return (acts.epochs[-1],)
    if epochs == "all":
        return tuple(acts.epochs)
    if isinstance(epochs, str):
        raise EstimatorError(f"epochs must be 'last', 'all' or a list of saved epochs, got {epochs!r}.")
    chosen = [int(epochs)] if isinstance(epochs, (int, np.integer)) else [int(e) for e in epochs]
    missing = [e for e in chosen if e not in acts.epochs]
    if missing:
        raise EstimatorError(f"Epoch(s) {missing} were not saved; saved epochs: {list(acts.epochs)}.")
    if not chosen:
        raise EstimatorError("No epochs chosen to embed.")
    return tuple(sorted(set(chosen), key=acts.epochs.index))


def select_layers(acts: ActivationSet, layers: Sequence[str] | str | None) -> tuple[str, ...]:
    """Layer names (None: all, in network order), checked against the activation set."""
    if layers is None:
        chosen = list(acts.layer_names)
    elif isinstance(layers, str):
        chosen = [layers]
    else:
        chosen = list(layers)
    missing = [name for name in chosen if name not in acts.values]
    if missing:
        raise EstimatorError(f"Unknown layer(s) {missing}; this run has {list(acts.layer_names)}.")
    if not chosen:
        raise EstimatorError("No layers to embed.")
    return tuple(chosen)


def _where(panel: Panel, epochs: tuple[int, ...], layers: tuple[str, ...]) -> str:
    epoch, layer = panel
    text = f"layer {layers.index(layer) + 1} of {len(layers)} ({layer})"
    if len(epochs) > 1:
        text += f", epoch {epoch} ({epochs.index(epoch) + 1} of {len(epochs)})"
    return text
