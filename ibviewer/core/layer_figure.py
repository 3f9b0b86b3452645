"""Static outputs of per-layer embeddings: a matplotlib grid (one panel per layer) and CSV files.

matplotlib is imported inside the functions (Agg backend) so the CLI starts fast.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.embedding import EmbeddingSet
from ibviewer.core.figure_layout import grid_shape
from ibviewer.core.probes import ProbeResult
from ibviewer.core.writers import PLAIN_TEXT, write_output
from ibviewer.errors import EstimatorError

LAYER_GRID_ASPECT = 1.6  # width / height the grid aims at (a landscape page)

__all__ = ["plot_layer_grid"]


def _check_labels(embedding_set: EmbeddingSet, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    first = next(iter(embedding_set.embeddings.values()), None)
    if first is None:
        raise EstimatorError("The embedding set is empty: nothing to draw or write.")
    if labels.shape != (first.n_samples,):
        raise EstimatorError(f"labels must have shape ({first.n_samples},), got {labels.shape}.")
    return labels


def plot_layer_grid(
    embedding_set: EmbeddingSet,
    labels: np.ndarray,
    label_names: Sequence[str] | None = None,
    probes: ProbeResult | None = None,
    epoch: int | None = None,
    path: str | Path | None = None,
    *,
    max_cols: int = 4,
    point_size: float | None = None,
    dpi: int = 120,
    layer_labels: Mapping[str, str] | None = None,
    note: str = "",
) -> Any:
    """Draw one panel per layer at one epoch, points coloured by label.

    Parameters
    ----------
    embedding_set : EmbeddingSet
    labels : ndarray of int
        (n_samples,) class of each embedded sample.
    label_names : sequence of str, optional
        Names for the legend (default: the label values).
    probes : ProbeResult, optional
        Adds "linear a% · kNN b%" to each title and marks the saturation layer.
    epoch : int, optional
        Default: the last embedded epoch.
    path : path, optional
        Where to save (format from the suffix, e.g. .png/.svg/.pdf), written atomically.
        Without it the figure is returned open.
    max_cols : int, default=4
        At most this many columns; the grid itself follows the panel count (`grid_shape`).
    point_size : float, optional
        Default: scaled down with the number of points.
    dpi : int, default=120
    layer_labels : mapping, optional
        Panel title per layer name (``ibviewer.core.layer_names.layer_labels``); default
        ``"name (n-d)"``.
    note : str, optional
        Added to the figure title, e.g. how sequences were pooled (``pooling_note``).

    Returns
    -------
    Path or matplotlib.figure.Figure
        The path written, or the figure when ``path`` is None.
    """
    import matplotlib

    with matplotlib.rc_context(PLAIN_TEXT):  # names from files ("$x$") are text, not mathtext
        fig = _draw_grid(embedding_set, labels, label_names, probes, epoch, max_cols, point_size, dpi, layer_labels, note)
        if path is None:
            return fig
        path = Path(path)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=path.suffix.lstrip(".") or "png")
    write_output(path, buffer.getvalue())
    return path


def _draw_grid(
    embedding_set: EmbeddingSet, labels: np.ndarray, label_names: Sequence[str] | None, probes: ProbeResult | None,
    epoch: int | None, max_cols: int, point_size: float | None, dpi: int, layer_labels: Mapping[str, str] | None,
    note: str,
) -> Any:  # fmt: skip
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no backend switch, safe beside the Qt app

    labels = _check_labels(embedding_set, labels)
    epoch_value = embedding_set.epochs[-1] if epoch is None else int(epoch)
    if epoch_value not in embedding_set.epochs:
        raise EstimatorError(f"Epoch {epoch} was not embedded; embedded epochs: {list(embedding_set.epochs)}.")
    layers = embedding_set.layers
    # the grid from the panel count and a landscape page: no empty row, few empty cells (5 panels: 2 x 3)
    n_rows, n_cols = grid_shape(len(layers), aspect=LAYER_GRID_ASPECT, max_cols=max_cols)
    projection = "3d" if embedding_set.dims == 3 else None
    fig = Figure(figsize=(3.6 * n_cols, 3.5 * n_rows + 0.8), dpi=dpi)
    classes = np.unique(labels)
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    size = point_size if point_size is not None else float(np.clip(3000 / max(len(labels), 1), 1, 20))
    saturation = probes.saturation_layer(epoch_value) if probes is not None and epoch_value in probes.epochs else None
    handles = []
    for i, layer in enumerate(layers):
        ax = fig.add_subplot(n_rows, n_cols, i + 1, projection=projection)
        result = embedding_set.get(epoch_value, layer)
        coords = result.coords
        for c, value in enumerate(classes):
            mask = labels == value
            name = label_names[int(value)] if label_names is not None and 0 <= int(value) < len(label_names) else str(value)
            colour = cmap(c % cmap.N)
            points = coords[mask].T
            artist = ax.scatter(*points, s=size, color=colour, label=name, linewidths=0, alpha=0.8)
            if i == 0:
                handles.append(artist)
        title = (layer_labels or {}).get(layer, f"{layer} ({result.n_features}-d)")
        if probes is not None and layer in probes.layers and epoch_value in probes.epochs:
            row, col = probes.epochs.index(epoch_value), probes.layers.index(layer)
            title += f"\nlinear {100 * probes.linear_acc[row, col]:.1f}% · kNN {100 * probes.knn_acc[row, col]:.1f}%"
            if layer == saturation:
                title += " (saturation)"
        if result.trustworthiness is not None:
            title += f"\ntrustworthiness {result.trustworthiness:.3f}"
        if result.subsampled:
            title += f"\n{len(result.embedded_idx)} embedded, rest placed"
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if projection == "3d":
            ax.set_zticks([])  # type: ignore[attr-defined]
    fig.suptitle(f"Epoch {epoch_value}: {embedding_set.describe()}" + (f"; {note}" if note else ""), fontsize=10)
    if len(handles) <= 20:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 10), fontsize=8, markerscale=2,
                   frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0.06 if len(handles) <= 20 else 0, 1, 0.92 if projection else 0.95))
    return fig
