"""Publication-style information-plane figures (PNG, SVG, PDF) with matplotlib, no display needed."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ibviewer.core.figure_layout import EpochScale
from ibviewer.core.information import InformationPlane
from ibviewer.core.writers import PLAIN_TEXT, write_output
from ibviewer.errors import IBViewerError

__all__ = ["plot_information_plane", "FIGURE_FORMATS"]

FIGURE_FORMATS = (".png", ".svg", ".pdf")
# gnuplot has no green, so the highlighted epoch stands out against every epoch colour
_HIGHLIGHT = "#1a9e3a"
_LAYER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">", "p", "*")


def plot_information_plane(
    plane: InformationPlane,
    paths: Sequence[str | Path],
    highlight_epoch: int | None = None,
    layer_labels: Mapping[str, str] | None = None,
    note: str = "",
) -> list[Path]:
    """Draw the information plane and save it to every path (format from the suffix).

    One line per epoch joins the layers (in network order), coloured by epoch with an
    "Epochs" colour bar (on a log scale when the epochs span more than two orders of
    magnitude, as log-spaced saves do); each layer has its own marker. The axes run from 0 to the ceilings
    log2(N) (I(X;T)) and H(Y) (I(T;Y)), which are drawn as dashed lines. For kde the band
    between the lower and upper bounds is shaded for every epoch. The estimator and its
    settings are the title.

    Parameters
    ----------
    plane : InformationPlane
        What to draw.
    paths : sequence of path
        Files to write: ``.png`` (150 dpi), ``.svg`` or ``.pdf``. Folders are created.
    highlight_epoch : int, optional
        An epoch to draw on top in black, thicker (e.g. the one selected in the app).
    layer_labels : mapping, optional
        Legend text per layer name (``ibviewer.core.layer_names.layer_labels``); default the names.
    note : str, optional
        Added to the details line, e.g. how sequences were pooled (``pooling_note``).

    Returns
    -------
    list of Path
        The files written.

    Every file is written through a temporary file and a rename: a crash never leaves a
    half-written figure or destroys the previous one. Names are drawn as plain text (a ``$``
    in a layer name is not mathtext).

    Raises
    ------
    IBViewerError
        An unsupported file suffix, an epoch to highlight that the plane does not hold, or an
        unwritable folder.
    """
    targets = [Path(p) for p in paths]
    for target in targets:
        if target.suffix.lower() not in FIGURE_FORMATS:
            raise IBViewerError(
                f"Cannot write a figure as {target.name!r}: use one of {', '.join(FIGURE_FORMATS)}."
            )
    if highlight_epoch is not None and highlight_epoch not in plane.epochs:
        raise IBViewerError(
            f"Epoch {highlight_epoch} is not in the information plane; its epochs run "
            f"{plane.epochs[0]}..{plane.epochs[-1]}."
        )
    import matplotlib

    written = []
    with matplotlib.rc_context(PLAIN_TEXT):
        figure = _draw(plane, highlight_epoch, layer_labels or {}, note)
        for target in targets:
            buffer = io.BytesIO()
            figure.savefig(buffer, format=target.suffix.lower().lstrip("."), dpi=150, metadata=_metadata(target, plane))
            write_output(target, buffer.getvalue())
            written.append(target)
    return written


def _metadata(target: Path, plane: InformationPlane) -> dict[str, str]:
    # fixed metadata: no creation dates, so identical planes give identical SVG/PDF files
    suffix = target.suffix.lower()
    if suffix == ".svg":
        return {"Title": f"Information plane ({plane.label()})", "Date": None}  # type: ignore[dict-item]
    if suffix == ".pdf":
        return {"Title": f"Information plane ({plane.label()})", "CreationDate": None}  # type: ignore[dict-item]
    return {"Title": f"Information plane ({plane.label()})"}


def _draw(plane: InformationPlane, highlight_epoch: int | None, labels: Mapping[str, str], note: str):  # -> Figure
    # Figure + Agg canvas directly: no pyplot, so no global backend switch inside a Qt app
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, SymLogNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    epochs = np.asarray(plane.epochs, dtype=float)
    low, high = float(epochs.min()), float(epochs.max())
    high = high if high > low else low + 1.0
    if EpochScale.for_epochs(epochs).log:
        # log-spaced saves (0, 1, 2, ... 10000): a linear scale would paint almost all of them dark
        norm = SymLogNorm(linthresh=1.0, vmin=low, vmax=high)
    else:
        norm = Normalize(vmin=low, vmax=high)
    line_alpha = 0.7 if len(plane.epochs) <= 50 else 0.4
    cmap = _colormap()
    n_layers = len(plane.layers)

    for e, epoch in enumerate(plane.epochs):
        colour = cmap(norm(epoch))
        if plane.i_xt_lower is not None and plane.i_ty_lower is not None:
            # the band: upper-bound path out, lower-bound path back
            xs = np.concatenate([plane.i_xt[e], plane.i_xt_lower[e][::-1]])
            ys = np.concatenate([plane.i_ty[e], plane.i_ty_lower[e][::-1]])
            axes.fill(xs, ys, color=colour, alpha=0.12, linewidth=0)
            axes.plot(plane.i_xt_lower[e], plane.i_ty_lower[e], color=colour, alpha=0.6, linewidth=0.6, linestyle="--")
        axes.plot(plane.i_xt[e], plane.i_ty[e], color=colour, alpha=line_alpha, linewidth=0.9, zorder=2)
    for k, name in enumerate(plane.layers):
        marker = _LAYER_MARKERS[k % len(_LAYER_MARKERS)]
        axes.scatter(
            plane.i_xt[:, k], plane.i_ty[:, k], c=epochs, cmap=cmap, norm=norm, marker=marker, s=22,
            edgecolors="none", zorder=3,
        )

    if highlight_epoch is not None:
        e = plane.epochs.index(highlight_epoch)
        axes.plot(plane.i_xt[e], plane.i_ty[e], color=_HIGHLIGHT, linewidth=2.2, zorder=4)
        for k in range(n_layers):
            axes.scatter(
                plane.i_xt[e, k], plane.i_ty[e, k], color=_HIGHLIGHT, s=45, edgecolors="black", linewidths=0.5,
                marker=_LAYER_MARKERS[k % len(_LAYER_MARKERS)], zorder=5,
            )
        axes.annotate(
            f"epoch {highlight_epoch}", (plane.i_xt[e, -1], plane.i_ty[e, -1]), textcoords="offset points",
            xytext=(6, -12), fontsize=8, color=_HIGHLIGHT,
        )

    axes.axvline(plane.log2_n, color="0.45", linestyle=":", linewidth=1.0, zorder=1)
    axes.axhline(plane.h_y, color="0.45", linestyle=":", linewidth=1.0, zorder=1)
    x_top = plane.log2_n * 1.04 if plane.log2_n > 0 else 1.0
    y_top = plane.h_y * 1.06 if plane.h_y > 0 else 1.0
    axes.text(plane.log2_n, 0.5 * y_top, f"log2(N) = {plane.log2_n:.2f} ", rotation=90, va="center", ha="right",
              fontsize=7, color="0.35")
    axes.text(0.0, plane.h_y, f" H(Y) = {plane.h_y:.2f}", va="bottom", ha="left", fontsize=7, color="0.35")
    axes.set_xlim(0.0, x_top)
    axes.set_ylim(0.0, y_top)
    axes.set_xlabel("I(X;T) (bits)")
    axes.set_ylabel("I(T;Y) (bits)")
    details = f"N = {plane.n_samples} samples, {len(plane.epochs)} epochs, {len(plane.layers)} layers"
    if plane.i_xt_lower is not None:
        details += "; lines: upper bounds, dashed: lower bounds, band between"
    if note:
        details += f"; {note}"
    axes.set_title(f"Information plane: {plane.label()}\n", fontsize=10)
    axes.text(0.5, 1.015, details, transform=axes.transAxes, ha="center", va="bottom", fontsize=7.5, color="0.3")

    handles = [
        Line2D([], [], linestyle="none", marker=_LAYER_MARKERS[k % len(_LAYER_MARKERS)], color="0.3",
               label=labels.get(name, name))
        for k, name in enumerate(plane.layers)
    ]
    axes.legend(handles=handles, title="Layers", fontsize=7, title_fontsize=8, loc="lower right",
                bbox_to_anchor=(1.0, 0.06), frameon=False)
    colorbar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes)
    colorbar.set_label("Epochs")
    return figure


def _colormap():
    from matplotlib import colormaps

    # the papers colour early epochs dark and late ones bright
    return colormaps["gnuplot"]
