"""Point colours for the embedding views: by label, predicted class, correctness or faithfulness.

Pure functions of an `AppState` returning (n_samples, 4) RGBA float arrays in [0, 1] (what
`GLScatterPlotItem` takes), built from the shared palette in `widgets/style.py` so the 2D and
3D views colour the same sample the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QBrush, QColor

from ibviewer.gui.widgets.style import class_colors, epoch_colormap

if TYPE_CHECKING:
    from ibviewer.gui.state import AppState

__all__ = ["palette_rgba", "predicted_classes", "point_rgba", "point_brushes", "color_legend"]

CORRECT_RGBA = np.array([0.17, 0.63, 0.17, 1.0], dtype=np.float32)  # tab10 green
WRONG_RGBA = np.array([0.84, 0.15, 0.16, 1.0], dtype=np.float32)  # tab10 red
UNKNOWN_RGBA = np.array([0.6, 0.6, 0.6, 1.0], dtype=np.float32)


def _rgba(color: QColor) -> tuple[float, float, float, float]:
    return (color.redF(), color.greenF(), color.blueF(), color.alphaF())


def palette_rgba(n_classes: int) -> np.ndarray:
    """(n_classes, 4) float32 RGBA of the class palette shared with the 2D view."""
    return np.array([_rgba(c) for c in class_colors(max(int(n_classes), 1))], dtype=np.float32)


def predicted_classes(state: AppState) -> np.ndarray | None:
    """(n_samples,) class predicted for each row, or None when the run gives no predictions.

    Taken from the probe result when it carries per-sample predictions, otherwise from the
    last captured layer when it is the network's output (one unit per class: its argmax).
    """
    if state.activations is None:
        return None
    n = state.n_samples
    probes = getattr(state, "probes", None)
    for name in ("predictions", "predicted"):
        values = getattr(probes, name, None)
        if values is not None:
            values = np.asarray(values)
            if values.ndim == 1 and values.shape[0] == n:
                return values.astype(np.int64)
    n_classes = len(state.class_names())
    layers = state.layer_names
    if layers and n_classes >= 2 and state.epoch is not None:
        last = layers[-1]
        if state.layer_dim(last) == n_classes:
            return np.argmax(state.activations.layer(last, state.epoch), axis=1).astype(np.int64)
    return None


def point_rgba(state: AppState, mode: str = "label", layer: str | None = None, epoch: int | None = None) -> np.ndarray:
    """(n_samples, 4) float32 colours of the rows under colouring ``mode``.

    ``faithfulness`` colours by the layer embedding's per-point k-NN overlap (viridis,
    0 = none of a point's neighbours kept, 1 = all kept); rows without a value, and modes
    the run cannot provide (no predictions), are grey.
    """
    n = state.n_samples
    labels = state.labels
    if mode == "label":
        return palette_rgba(len(state.class_names()))[labels]
    if mode in ("predicted", "correct"):
        predicted = predicted_classes(state)
        if predicted is None:
            return np.tile(UNKNOWN_RGBA, (n, 1))
        if mode == "predicted":
            n_classes = max(len(state.class_names()), int(predicted.max()) + 1)
            return palette_rgba(n_classes)[predicted]
        return np.where((predicted == labels)[:, None], CORRECT_RGBA, WRONG_RGBA).astype(np.float32)
    if mode == "faithfulness":
        embedding = state.embedding(layer, epoch) if layer is not None else None
        overlap = getattr(embedding, "knn_overlap", None)
        if overlap is None or len(overlap) != n:
            return np.tile(UNKNOWN_RGBA, (n, 1))
        lut = epoch_colormap().getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.float32) / 255.0
        index = np.clip(np.round(np.asarray(overlap, dtype=np.float64) * 255), 0, 255).astype(np.int64)
        return lut[index]
    raise ValueError(f"unknown colour mode {mode!r}")


def point_brushes(rgba: np.ndarray) -> list[QBrush]:
    """One QBrush per row of (n, 4) RGBA colours in [0, 1] (what 2D scatters take), shared between equal colours.

    A brush per point costs ~0.5 s for 10k points; colourings have few distinct colours
    (classes, correct/wrong, 256 viridis steps), so one brush per distinct colour is built.
    """
    rgba = np.asarray(rgba, dtype=np.float32)
    if len(rgba) == 0:
        return []
    unique, inverse = np.unique(np.round(rgba * 255).astype(np.int64), axis=0, return_inverse=True)
    brushes = [QBrush(QColor(int(r), int(g), int(b), int(a))) for r, g, b, a in unique.tolist()]
    return [brushes[i] for i in np.asarray(inverse).reshape(-1).tolist()]


def color_legend(state: AppState, mode: str = "label") -> list[tuple[str, QColor]]:
    """(name, colour) entries that explain ``mode`` (for a legend row)."""
    if mode == "label" or (mode == "predicted" and predicted_classes(state) is not None):
        names = state.class_names()
        return list(zip(names, class_colors(max(len(names), 1))))
    if mode == "correct" and predicted_classes(state) is not None:
        return [("correct", QColor.fromRgbF(*CORRECT_RGBA)), ("wrong", QColor.fromRgbF(*WRONG_RGBA))]
    if mode == "faithfulness":
        cmap = epoch_colormap()
        return [(f"{v:.0%} kept", cmap.map(v, mode="qcolor")) for v in (0.0, 0.5, 1.0)]
    return [("not available for this run", QColor.fromRgbF(*UNKNOWN_RGBA))]
