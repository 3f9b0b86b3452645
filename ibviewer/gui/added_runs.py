"""Runs added to the information plane beside the shown run (File > Add Run to the Plane).

Each added run is opened and its plane estimated in the background with the shown run's
open options and settings (`ibviewer.core.multirun.plane_of_run`); the plane view then
draws every run: side by side ("compare": each run in its own colour) or, for seeds of one
setup, their mean trajectory per layer with the spread over runs ("average"). A change of
the estimator's settings re-estimates every added run, so the planes stay comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ibviewer.core.config import RunRequest
from ibviewer.core.multirun import COMBINE_MODES, RunPlanes, combine_planes
from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    from ibviewer.core.information import InformationPlane
    from ibviewer.gui.jobs import JobHub
    from ibviewer.gui.state import AppState

__all__ = ["AddedRuns", "add_runs_menu"]

ADD_SLOT = "add-run"


class AddedRuns(QObject):
    """The runs drawn in the plane beside the shown one, and how they are combined.

    Signals
    -------
    changed()
        A run was added or removed, a plane re-estimated, or the way of combining changed.
    """

    changed = Signal()

    def __init__(self, state: AppState, jobs: JobHub, defaults: RunRequest | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.defaults = defaults or RunRequest(path="")
        self.requests: list[RunRequest] = []
        self.planes: dict[str, tuple[str, InformationPlane]] = {}  # request path -> (name, plane)
        self.mode = "compare"
        self._estimated_with = self._settings_key()
        self.menu_actions: dict[str, QAction] = {}  # set by `add_runs_menu`
        state.settings_changed.connect(self._on_state_settings_changed)

    # -- public ----------------------------------------------------------------------
    def add(self, path: str | Path) -> None:
        """Open ``path`` in the background and add its plane (the shown run's open options and settings)."""
        request = replace(self.defaults, path=str(path))
        if any(r.path == request.path for r in self.requests):
            raise IBViewerError(f"{Path(request.path).name} is already in the plane.")
        self.requests.append(request)
        self._estimate(request)

    def clear(self) -> None:
        """Remove every added run."""
        for i in range(len(self.requests)):
            self.jobs.cancel(f"{ADD_SLOT}-{i}")
        self.requests, self.planes = [], {}
        self.changed.emit()

    def set_mode(self, mode: str) -> None:
        """``"compare"`` (side by side) or ``"average"`` (mean and spread over the runs, the shown one included)."""
        if mode not in COMBINE_MODES:
            raise IBViewerError(f"Unknown way to combine runs {mode!r}; choose {' or '.join(COMBINE_MODES)}.")
        self.mode = mode
        self.changed.emit()

    def combined(self) -> RunPlanes | None:
        """The shown run's plane and every added one's, combined by `mode`; None with nothing added.

        Planes estimated with other settings than the shown one (still being re-estimated) are left out.
        """
        shown = self.state.infoplane
        ready = [self.planes[r.path] for r in self.requests if r.path in self.planes]
        if shown is None or not ready:
            return None
        same = [(name, plane) for name, plane in ready if plane.label() == shown.label()]
        if not same:
            return None
        names = [getattr(self.state.run, "name", "shown run"), *(name for name, _ in same)]
        return combine_planes(names, [shown, *(plane for _, plane in same)], self.mode)

    # -- jobs ------------------------------------------------------------------------
    def _estimate(self, request: RunRequest) -> None:
        from ibviewer.core.multirun import plane_of_run

        slot = f"{ADD_SLOT}-{self.requests.index(request)}"
        self.jobs.submit(slot, plane_of_run, request, self.state.settings,
                         on_finished=lambda result, path=request.path: self._on_plane_estimated(path, result))  # fmt: skip

    def _on_plane_estimated(self, path: str, result: tuple[str, InformationPlane]) -> None:
        if any(r.path == path for r in self.requests):
            self.planes[path] = result
            self.changed.emit()

    def _settings_key(self) -> str:
        return repr((self.state.settings.estimator, sorted(self.state.settings.estimator_params().items())))

    def _on_state_settings_changed(self) -> None:
        key = self._settings_key()
        if key != self._estimated_with:
            self._estimated_with = key
            for request in self.requests:
                self._estimate(request)


def add_runs_menu(menu: QMenu, parent: QWidget, added: AddedRuns, report: Callable[[BaseException], None]) -> QMenu:
    """The File menu's "Runs in the Plane" submenu: add a run, average or compare them, remove them."""
    from ibviewer.gui.dialogs.open_dialog import RUN_FILE_FILTER

    runs_menu = menu.addMenu("Runs in the &Plane")
    add_action = QAction("&Add Run to the Plane…", parent)
    add_action.setStatusTip("Draw another run's information plane beside the shown one (another seed, another setup)")

    def add() -> None:
        path, _ = QFileDialog.getOpenFileName(parent, "Add Run to the Plane", "", RUN_FILE_FILTER)
        if path:
            try:
                added.add(str(Path(path).parent) if Path(path).name == "run.json" else path)
            except IBViewerError as exc:
                report(exc)

    add_action.triggered.connect(add)
    average_action = QAction("A&verage the Runs (seeds of one setup)", parent, checkable=True)
    average_action.setStatusTip("Draw the mean trajectory per layer with the spread over runs instead of every run")
    average_action.toggled.connect(lambda checked: added.set_mode("average" if checked else "compare"))
    clear_action = QAction("&Remove Added Runs", parent)
    clear_action.triggered.connect(added.clear)
    for action in (add_action, average_action, clear_action):
        runs_menu.addAction(action)
    added.menu_actions = {"add": add_action, "average": average_action, "clear": clear_action}
    return runs_menu
