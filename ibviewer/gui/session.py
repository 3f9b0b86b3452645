"""Sessions: the run, settings, selection, camera and epoch in a small versioned JSON file.

Reopening a session opens the same run with the same options, applies the same settings and
brings back the selection, the clicked sample, the epoch and the 3D camera, so the same
pictures come back. The dict <-> `Session` functions are pure; `capture_session` and
`apply_session_view` read and write an `AppState`; `copy_widget_to_clipboard` is the
"Copy figure to clipboard" action.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core.cache import atomic_write_text
from ibviewer.core.config import AnalysisSettings
from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QWidget

    from ibviewer.gui.state import AppState

__all__ = [
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "SESSION_SUFFIX",
    "Session",
    "session_to_dict",
    "session_from_dict",
    "save_session",
    "load_session",
    "capture_session",
    "apply_session_view",
    "copy_widget_to_clipboard",
]

SESSION_FORMAT = "ibviewer-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".ibvsession"
# the open options a session keeps (trust_pickle is never stored: reopening must ask again)
RUN_KEYS = ("path", "model", "model_kwargs", "dataset", "layers", "max_samples", "sequence_pool", "feature_maps")
CAMERA_KEYS = ("center", "distance", "elevation", "azimuth", "fov")


@dataclass(frozen=True)
class Session:
    """What a session file holds.

    Attributes
    ----------
    run : dict
        How to reopen the run: ``path`` plus the open options in ``RUN_KEYS`` that were set.
    settings : AnalysisSettings
    epoch : int or None
    selection : tuple of int
        Rows of the group selection.
    focus : (row, layer) or None
        The clicked sample and the layer it was clicked in.
    camera : dict or None
        The 3D camera (``center`` [x, y, z], ``distance``, ``elevation``, ``azimuth``, ``fov``).
    neighbors : dict
        ``k`` and ``metric`` of the neighbour list.
    """

    run: dict[str, Any]
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    epoch: int | None = None
    selection: tuple[int, ...] = ()
    focus: tuple[int, str] | None = None
    camera: dict[str, Any] | None = None
    neighbors: dict[str, Any] = field(default_factory=dict)


def session_to_dict(session: Session) -> dict[str, Any]:
    """A JSON-ready dict of ``session`` with the format name and version."""
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "run": {k: v for k, v in session.run.items() if k in RUN_KEYS and v is not None},
        "settings": session.settings.to_dict(),
        "epoch": session.epoch,
        "selection": [int(r) for r in session.selection],
        "focus": None if session.focus is None else {"row": int(session.focus[0]), "layer": str(session.focus[1])},
        "camera": None if session.camera is None else _clean_camera(session.camera),
        "neighbors": dict(session.neighbors),
    }


def session_from_dict(data: Any, base_dir: str | Path | None = None) -> Session:
    """Parse a session dict; a relative run path is taken relative to ``base_dir``.

    Raises
    ------
    IBViewerError
        Not a session, written by a newer ibviewer, or a field of the wrong type.
    """
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise IBViewerError("This file is not an ibviewer session (no 'format': 'ibviewer-session'); open a .ibvsession file.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise IBViewerError(f"The session has an invalid version {version!r}; the file is damaged.")
    if version > SESSION_VERSION:
        raise IBViewerError(
            f"The session was written by a newer ibviewer (session version {version}); this one reads "
            f"version {SESSION_VERSION}. Update ibviewer to open it."
        )
    run = data.get("run")
    if not isinstance(run, dict) or not isinstance(run.get("path"), str) or not run["path"]:
        raise IBViewerError("The session names no run ('run': {'path': ...} is missing); the file is damaged.")
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise IBViewerError(f"The session's run has unknown option(s) {', '.join(unknown)}; the file is damaged.")
    run = dict(run)
    if base_dir is not None and not Path(run["path"]).expanduser().is_absolute():
        run["path"] = str(Path(base_dir) / run["path"])
    settings = AnalysisSettings.from_dict(_typed(data, "settings", dict, {}))
    epoch = _typed(data, "epoch", int, None)
    selection = _typed(data, "selection", list, [])
    if not all(_is_int(r) and r >= 0 for r in selection):
        raise IBViewerError("The session's selection must be a list of sample rows (integers >= 0).")
    focus_data = _typed(data, "focus", dict, None)
    focus = None
    if focus_data is not None:
        row, layer = focus_data.get("row"), focus_data.get("layer")
        if not (_is_int(row) and row >= 0 and isinstance(layer, str)):
            raise IBViewerError("The session's focus must be {'row': int, 'layer': str}.")
        focus = (int(row), layer)
    camera = _typed(data, "camera", dict, None)
    return Session(
        run=run,
        settings=settings,
        epoch=epoch,
        selection=tuple(int(r) for r in selection),
        focus=focus,
        camera=None if camera is None else _clean_camera(camera),
        neighbors=_typed(data, "neighbors", dict, {}),
    )


def save_session(path: str | Path, session: Session) -> Path:
    """Write ``session`` to ``path`` as JSON (atomically: a crash never leaves half a file)."""
    path = Path(path)
    atomic_write_text(path, json.dumps(session_to_dict(session), indent=2, sort_keys=True) + "\n")
    return path


def load_session(path: str | Path) -> Session:
    """Read a session file written by `save_session`.

    Raises
    ------
    IBViewerError
        Missing or unreadable file, invalid JSON, not a session, or a newer version.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IBViewerError(f"Could not read the session file {path} ({exc}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IBViewerError(f"{path.name} is not a valid session file (invalid JSON: {exc}).") from exc
    return session_from_dict(data, base_dir=path.parent)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _typed(data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise IBViewerError(f"The session's {key!r} must be a {kind.__name__}, got {type(value).__name__}.")
    return value


def _clean_camera(camera: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key in CAMERA_KEYS:
        if key not in camera:
            continue
        value = camera[key]
        if key == "center":
            if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(_finite(v) for v in value)):
                raise IBViewerError("The session's camera center must be three numbers [x, y, z].")
            clean[key] = [float(v) for v in value]
        elif _finite(value):
            clean[key] = float(value)
        else:
            raise IBViewerError(f"The session's camera {key} must be a finite number, got {value!r}.")
    return clean


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- AppState <-> Session ----------------------------------------------------------------


def capture_session(
    state: AppState,
    run_options: dict[str, Any],
    settings: AnalysisSettings,
    camera: dict[str, Any] | None = None,
) -> Session:
    """The session of what ``state`` shows now (``run_options``: the open request as a dict)."""
    focus = None if state.focus is None else (int(state.focus.row), str(state.focus.layer))
    neighbors = {"k": int(state.settings.k), "metric": str(state.settings.metric)}
    return Session(
        run={k: v for k, v in run_options.items() if k in RUN_KEYS and v is not None},
        settings=settings,
        epoch=None if state.epoch is None else int(state.epoch),
        selection=tuple(int(r) for r in state.selection),
        focus=focus,
        camera=camera,
        neighbors=neighbors,
    )


def apply_session_view(state: AppState, session: Session) -> list[str]:
    """Bring back the epoch, neighbour settings, selection and focus on an opened run.

    Returns the problems found (an epoch, rows or a layer the run does not have); what
    fits is applied and the rest skipped, so a session of a changed run still opens.
    """
    problems: list[str] = []
    if session.neighbors:
        changes = {k: v for k, v in session.neighbors.items() if k in ("k", "metric")}
        if changes:
            state.set_settings(**changes)
    if session.epoch is not None:
        if session.epoch in tuple(state.activations.epochs):
            state.set_epoch(session.epoch)
        else:
            problems.append(f"epoch {session.epoch} is not in this run")
    n = state.n_samples
    rows = [r for r in session.selection if r < n]
    if len(rows) < len(session.selection):
        problems.append(f"{len(session.selection) - len(rows)} selected rows are beyond the run's {n} samples")
    state.set_selection(rows)
    if session.focus is not None:
        row, layer = session.focus
        if row < n and layer in state.layer_names:
            state.set_focus(row, layer)
        else:
            problems.append(f"the focused sample {row} in {layer!r} is not in this run")
    return problems


def copy_widget_to_clipboard(widget: QWidget) -> QImage:
    """Copy a picture of ``widget`` (3D panels included) to the clipboard; returns the QImage."""
    from PySide6.QtGui import QGuiApplication

    from ibviewer.gui.widgets.grab import grab_with_gl

    image = grab_with_gl(widget)
    QGuiApplication.clipboard().setImage(image)
    return image
