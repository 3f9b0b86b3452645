"""Writing figures (PNG at a chosen scale, SVG, PDF) of any widget, and the data files of what `AppState` holds.

Data files are written by `ibviewer.core.writers`, the same functions `ibviewer analyze` uses,
so File > Export Data and the command line write identical files for the same settings.

pyqtgraph's own SVG exporter is broken on Qt >= 6.11, so every format renders the
widget with ``QWidget.render`` onto the right paint device: a scaled QImage for PNG,
`QSvgGenerator` for SVG (at the widget's logical DPI, or the axes drift) and
`QPdfWriter` for PDF, the page sized to the widget: one point per pixel, the size the
export dialog shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMarginsF, QPoint, QRect, QSize, QSizeF
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QWidget

from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    from ibviewer.gui.state import AppState

__all__ = [
    "FIGURE_FORMATS",
    "DATA_KINDS",
    "export_data",
    "export_widget",
    "render_png",
    "render_svg",
    "render_pdf",
    "default_export_name",
    "export_path",
]

FIGURE_FORMATS = {"png": "PNG image", "svg": "SVG vector graphics", "pdf": "PDF document"}
DATA_KINDS = {"infoplane": "Information plane (CSV)", "embeddings": "Embeddings of the shown epoch (CSV)",
              "neighbors": "Neighbours of the selected sample (CSV)", "probes": "Layer probes (CSV)"}  # fmt: skip


def export_data(state: AppState, kind: str, path: str | Path) -> Path:
    """Write one of ``DATA_KINDS`` from ``state`` to ``path`` (CSV, the format `ibviewer analyze` writes)."""
    from ibviewer.core import writers

    if kind == "infoplane":
        if state.infoplane is None:
            raise IBViewerError("The information plane is not computed yet; wait for it or open a run.")
        return writers.write_infoplane_csv(state.infoplane, path)
    names = state.sample_names()
    if kind == "embeddings":
        shown = [state.embedding(layer) for layer in state.layer_names]
        return writers.write_embeddings_csv(path, [e for e in shown if e is not None], state.activations, names)
    if kind == "neighbors":
        if state.neighbors is None:
            raise IBViewerError("No neighbours to export: click a point in a layer panel first.")
        return writers.write_neighbors_csv(path, state.neighbors, state.activations, names)
    if kind == "probes":
        if state.probes is None:
            raise IBViewerError("The layer probes are not computed yet; wait for them or open a run.")
        return writers.write_probes_csv(state.probes, path)
    raise IBViewerError(f"Unknown data export {kind!r}; choose {', '.join(DATA_KINDS)}.")


def default_export_name(run_name: str, figure: str, epoch: int | None, fmt: str) -> str:
    """The file name an export proposes: "<run>_<figure>_e<epoch>.<ext>" (e.g. "digits_mlp_infoplane_e300.png").

    The run's name loses a weights-file suffix ("checkpoint_000.pt" -> "checkpoint_000") and any
    character a file name should not carry.
    """
    stem = re.sub(r"\.(pt|pth|ckpt|pt2|bin|safetensors|npz)$", "", run_name or "ibviewer", flags=re.IGNORECASE)
    parts = [stem, figure.replace("layer:", "layer_")] + ([f"e{epoch}"] if epoch is not None else [])
    name = "_".join(parts)
    return re.sub(r"[^\w.+-]+", "_", name).strip("._") + f".{fmt}"


def export_path(path: str | Path, fmt: str) -> tuple[Path, str]:
    """The path and format an export writes: a figure format the user typed wins, else ``fmt``'s suffix is added.

    ``grid.png`` with SVG chosen in the dialog writes a PNG named ``grid.png`` (not ``grid.png.svg``).
    """
    path = Path(path)
    typed = path.suffix.lower().lstrip(".")
    if typed in FIGURE_FORMATS:
        return path, typed
    return path.with_name(path.name + f".{fmt}"), fmt


def export_widget(widget: QWidget, path: str | Path, fmt: str | None = None, scale: float = 1.0) -> Path:
    """Write ``widget`` as it looks now to ``path`` (format from ``fmt`` or the suffix).

    ``scale`` multiplies the pixel size of PNG output (2.0 gives a 2x-resolution image).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FIGURE_FORMATS:
        raise IBViewerError(f"Cannot export a figure as {fmt!r}; choose PNG, SVG or PDF (file name ending .png, .svg or .pdf).")
    if not path.parent.is_dir():
        raise IBViewerError(f"The folder {path.parent} does not exist; choose another place to save {path.name}.")
    if fmt == "png":
        render_png(widget, path, scale)
    elif fmt == "svg":
        render_svg(widget, path)
    else:
        render_pdf(widget, path)
    return path


def _paint(widget: QWidget, painter: QPainter) -> None:
    """QWidget.render of the whole widget and its children (QGraphicsView hides it behind its own render)."""
    try:
        scene = widget.scene() if hasattr(widget, "scene") and callable(widget.scene) else None
        if scene is not None and hasattr(scene, "prepareForPaint"):
            scene.prepareForPaint()  # what pyqtgraph does before painting
        QWidget.render(widget, painter, QPoint(0, 0))
    finally:
        painter.end()


def _check_size(widget: QWidget) -> QSize:
    size = widget.size()
    if size.width() < 2 or size.height() < 2:
        raise IBViewerError("That part of the window is not visible, so there is nothing to export; show it first.")
    return size


def render_png(widget: QWidget, path: str | Path, scale: float = 1.0) -> QSize:
    """Render at ``scale`` times the widget's size (text and lines re-drawn, not blown up)."""
    size = _check_size(widget)
    if not 0.1 <= scale <= 16:
        raise IBViewerError(f"A PNG scale of {scale} is out of range; choose between 0.1 and 16.")
    width, height = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.scale(width / size.width(), height / size.height())
    _paint(widget, painter)
    if not image.save(str(path), "PNG"):
        raise IBViewerError(f"Could not write {path}; check that the folder is writable.")
    return QSize(width, height)


def render_svg(widget: QWidget, path: str | Path) -> None:
    from PySide6.QtSvg import QSvgGenerator

    size = _check_size(widget)
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(QPoint(0, 0), size))
    generator.setResolution(widget.logicalDpiX())  # otherwise the axes drift from the data
    generator.setTitle("ibviewer figure")
    generator.setDescription(widget.windowTitle() or widget.objectName() or "ibviewer")
    _paint(widget, QPainter(generator))
    if not Path(path).is_file():
        raise IBViewerError(f"Could not write {path}; check that the folder is writable.")


def render_pdf(widget: QWidget, path: str | Path) -> None:
    size = _check_size(widget)
    dpi = widget.logicalDpiX()
    writer = QPdfWriter(str(path))
    writer.setResolution(dpi)
    # one point per pixel: the page is the size the export dialog states ("540 x 395 points")
    page = QPageSize(QSizeF(size.width(), size.height()), QPageSize.Unit.Point, "figure")
    writer.setPageLayout(QPageLayout(page, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    writer.setTitle("ibviewer figure")
    painter = QPainter(writer)
    if not painter.isActive():
        raise IBViewerError(f"Could not write {path}; check that the folder is writable.")
    factor = min(writer.width() / size.width(), writer.height() / size.height())
    painter.scale(factor, factor)
    _paint(widget, painter)
