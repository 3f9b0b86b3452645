"""Icons, help pages and the style sheet from the top-level ``resources/`` folder.

Found by :mod:`ibviewer.data_files` (the source checkout, or where a wheel installed it);
when the folder is missing the app still works, without icon and with a short built-in
help text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

from ibviewer.data_files import data_dir

__all__ = ["resource_dir", "resource_path", "app_icon", "help_html", "style_sheet"]

_FALLBACK_HELP = (
    "<h2>How to read the information plane</h2><p>Each point is one layer at one saved epoch: "
    "I(X;T), how much the layer remembers about the input, against I(T;Y), how much it tells about the label. "
    "Lines join the layers of one epoch; colour shows the epoch.</p>"
)


@lru_cache(maxsize=1)
def resource_dir() -> Path | None:
    return data_dir("resources")


def resource_path(*parts: str) -> Path | None:
    root = resource_dir()
    if root is None:
        return None
    path = root.joinpath(*parts)
    return path if path.exists() else None


def app_icon() -> QIcon:
    path = resource_path("icons", "ibviewer.svg")
    return QIcon(str(path)) if path is not None else QIcon()


def help_html(name: str = "information_plane") -> str:
    path = resource_path("help", f"{name}.html")
    return path.read_text(encoding="utf-8") if path is not None else _FALLBACK_HELP


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path is not None else ""
