"""The window's menus and their actions: File, Edit, View, Analysis, Help.

`Menus` builds the menu bar and answers the actions that need a dialog (choosing a file,
an export target, a session to open or save); what to do with the answer is asked of the
window through `MenuHost`, and settings changes (method, 3D) go to `AppState`, whose
controller recomputes what they change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMenuBar, QMessageBox, QWidget

from ibviewer import __version__
from ibviewer.core.config import METHODS
from ibviewer.errors import IBViewerError
from ibviewer.gui.added_runs import AddedRuns, add_runs_menu
from ibviewer.gui.controller import AnalysisController
from ibviewer.gui.dialogs.export_dialog import ExportFigureDialog
from ibviewer.gui.dialogs.open_dialog import RUN_FILE_FILTER
from ibviewer.gui.export import DATA_KINDS, default_export_name, export_path
from ibviewer.gui.session import SESSION_SUFFIX
from ibviewer.gui.settings import app_settings, recent_runs
from ibviewer.gui.state import AppState

__all__ = ["Menus", "MenuHost"]


class MenuHost(Protocol):
    """What the menus ask of the window."""

    added_runs: AddedRuns  # other runs drawn in the information plane

    def window(self) -> QWidget: ...  # the parent of the dialogs

    def open_with_dialogs(self, path: str) -> None: ...

    def open_path(self, path: str | Path, **options: Any) -> None: ...

    def open_session_file(self, path: str | Path) -> None: ...

    def save_session_file(self, path: str | Path) -> None: ...

    def figure_targets(self) -> dict[str, str]: ...

    def figure_widget(self, target: str) -> QWidget: ...

    def export_figure(self, target: str, path: str | Path, scale: float = 1.0) -> Path: ...

    def export_data(self, kind: str, path: str | Path) -> Path: ...

    def copy_figure(self) -> None: ...

    def cancel_all(self) -> None: ...

    def report(self, exc: BaseException) -> None: ...

    def show_status(self, text: str) -> None: ...


class Menus(QObject):
    """Builds ``menu_bar`` and holds its actions (tests trigger them directly)."""

    def __init__(
        self,
        host: MenuHost,
        menu_bar: QMenuBar,
        state: AppState,
        controller: AnalysisController,
        controls_action: QAction,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.state = state
        self.controller = controller
        parent_widget = host.window()
        self._build_file_menu(menu_bar, parent_widget)
        self._build_edit_and_view_menus(menu_bar, parent_widget, controls_action)
        self._build_analysis_menu(menu_bar, parent_widget)
        self._build_help_menu(menu_bar, parent_widget)
        state.settings_changed.connect(self._on_state_settings_changed)
        self._on_state_settings_changed()

    # -- building ------------------------------------------------------------------------
    def _action(self, parent: QWidget, text: str, slot: Callable[..., Any], shortcut: Any = None, **options: Any) -> QAction:
        action = QAction(text, parent, **options)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_file_menu(self, menu_bar: QMenuBar, parent: QWidget) -> None:
        menu = menu_bar.addMenu("&File")
        self.open_action = self._action(parent, "&Open Run or Checkpoint…", self._on_open_action_triggered,
                                        QKeySequence.StandardKey.Open)  # fmt: skip
        self.open_action.setStatusTip("Open an ibviewer run folder, a checkpoint, a .pt2 program or an activations archive")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.runs_menu = add_runs_menu(menu, parent, self.host.added_runs, self.host.report)
        menu.addSeparator()
        self.open_session_action = self._action(parent, "Open &Session…", self._on_open_session_action_triggered,
                                                "Ctrl+Shift+O")  # fmt: skip
        self.save_session_action = self._action(parent, "&Save Session…", self._on_save_session_action_triggered,
                                                QKeySequence.StandardKey.Save)  # fmt: skip
        menu.addAction(self.open_session_action)
        menu.addAction(self.save_session_action)
        menu.addSeparator()
        self.export_figure_action = self._action(parent, "&Export Figure…", self._on_export_figure_action_triggered, "Ctrl+E")
        self.export_data_action = self._action(parent, "Export &Data…", self._on_export_data_action_triggered, "Ctrl+Shift+E")
        menu.addAction(self.export_figure_action)
        menu.addAction(self.export_data_action)
        menu.addSeparator()
        self.quit_action = self._action(parent, "&Quit", parent.close, QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        menu.addAction(self.quit_action)

    def _build_edit_and_view_menus(self, menu_bar: QMenuBar, parent: QWidget, controls_action: QAction) -> None:
        edit_menu = menu_bar.addMenu("&Edit")
        self.copy_figure_action = self._action(parent, "&Copy Figure to Clipboard", self.host.copy_figure, "Ctrl+Shift+C")
        edit_menu.addAction(self.copy_figure_action)
        view_menu = menu_bar.addMenu("&View")
        self.view_3d_action = self._action(parent, "&3D Embeddings", self._on_view_3d_action_triggered, "Ctrl+3",
                                           checkable=True)  # fmt: skip
        self.view_3d_action.setStatusTip("Switch the layer panels between 2D and rotatable 3D embeddings")
        view_menu.addAction(self.view_3d_action)
        controls_action.setText("&Controls")
        controls_action.setShortcut(QKeySequence("Ctrl+K"))
        view_menu.addAction(controls_action)

    def _build_analysis_menu(self, menu_bar: QMenuBar, parent: QWidget) -> None:
        menu = menu_bar.addMenu("&Analysis")
        self.cancel_action = self._action(parent, "&Cancel Running Jobs", self.host.cancel_all, "Ctrl+.")
        menu.addAction(self.cancel_action)
        self.recompute_action = self._action(parent, "&Recompute", self.controller.recompute, QKeySequence.StandardKey.Refresh)
        menu.addAction(self.recompute_action)
        method_menu = menu.addMenu("Embedding &Method")
        self.method_actions: dict[str, QAction] = {}
        for method, title in METHODS.items():
            action = self._action(parent, title, self._on_method_action_triggered, checkable=True)
            action.setData(method)
            method_menu.addAction(action)
            self.method_actions[method] = action

    def _build_help_menu(self, menu_bar: QMenuBar, parent: QWidget) -> None:
        menu = menu_bar.addMenu("&Help")
        self.help_action = self._action(parent, "How to Read the &Information Plane", self._on_help_action_triggered,
                                        QKeySequence.StandardKey.HelpContents)  # fmt: skip
        menu.addAction(self.help_action)
        self.about_action = self._action(parent, "&About ibviewer", self._on_about_action_triggered)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        menu.addAction(self.about_action)

    # -- settings ------------------------------------------------------------------------
    def _on_state_settings_changed(self) -> None:
        settings = self.state.settings
        for name, action in self.method_actions.items():
            action.setChecked(name == settings.method)
        self.view_3d_action.setChecked(settings.dims == 3)

    def _on_method_action_triggered(self) -> None:
        self.controller.set_method(self.sender().data())
        self._on_state_settings_changed()  # unchecking the checked method's action does not turn it off

    def _on_view_3d_action_triggered(self, checked: bool) -> None:
        self.controller.apply_settings(self.state.settings.with_changes(dims=3 if checked else 2))

    # -- opening -------------------------------------------------------------------------
    def _on_open_action_triggered(self) -> None:
        start = str(app_settings().value("open/last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self.host.window(), "Open Run or Checkpoint", start, RUN_FILE_FILTER)
        if not path:
            return
        app_settings().setValue("open/last_dir", str(Path(path).parent))
        if Path(path).name == "run.json":
            path = str(Path(path).parent)
        self.host.open_with_dialogs(path)

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        entries = recent_runs()
        if not entries:
            self.recent_menu.addAction("No recent runs").setEnabled(False)
            return
        for entry in entries:
            action = self.recent_menu.addAction(Path(entry["path"]).name or entry["path"])
            action.setToolTip(entry["path"])
            action.setData(entry)
            action.triggered.connect(self._on_recent_action_triggered)

    def _on_recent_action_triggered(self) -> None:
        entry = self.sender().data()
        options = {key: entry.get(key) for key in ("model", "model_kwargs", "dataset", "max_samples")}
        self.host.open_path(entry["path"], **options)

    def _on_open_session_action_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.host.window(), "Open Session", "", f"ibviewer sessions (*{SESSION_SUFFIX})")
        if path:
            self.host.open_session_file(path)

    def _on_save_session_action_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.host.window(), "Save Session", "", f"ibviewer sessions (*{SESSION_SUFFIX})")
        if not path:
            return
        if not path.endswith(SESSION_SUFFIX):
            path += SESSION_SUFFIX
        try:
            self.host.save_session_file(path)
        except (IBViewerError, OSError) as exc:
            self.host.report(exc if isinstance(exc, IBViewerError) else IBViewerError(f"Could not save {path}: {exc}"))
            return
        self.host.show_status(f"Session saved to {Path(path).name}")

    # -- exporting -----------------------------------------------------------------------
    def _default_export_name(self, stem: str, suffix: str) -> str:
        """"<run>_<figure>_e<epoch>.<ext>" in the folder of the last export (at first: the working folder)."""
        folder = Path(str(app_settings().value("export/last_dir", str(Path.cwd()))))
        name = str(getattr(self.state.run, "name", "") or "ibviewer")
        return str(folder / default_export_name(name, stem, self.state.epoch, suffix))

    def _on_export_figure_action_triggered(self) -> None:
        host = self.host
        dialog = ExportFigureDialog(host.figure_targets(), host.figure_widget, host.window())
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        target, fmt, scale = dialog.values()
        stem = target.replace("layer:", "layer_").replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(
            host.window(), "Export Figure", self._default_export_name(stem, fmt), f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            path = str(export_path(path, fmt)[0])  # a format typed in the name wins over the dialog's
        self._save(path, lambda: host.export_figure(target, path, scale))

    def _on_export_data_action_triggered(self) -> None:
        titles = list(DATA_KINDS.values())
        title, ok = QInputDialog.getItem(self.host.window(), "Export Data", "What to export:", titles, 0, False)
        if not ok:
            return
        kind = list(DATA_KINDS)[titles.index(title)]
        path, _ = QFileDialog.getSaveFileName(
            self.host.window(), "Export Data", self._default_export_name(kind, "csv"), "CSV (*.csv)"
        )
        self._save(path, lambda: self.host.export_data(kind, path))

    def _save(self, path: str, write: Callable[[], Path]) -> None:
        """Run ``write()`` for a path the user chose (nothing when cancelled); errors go to the dialog."""
        if not path:
            return
        try:
            write()
        except IBViewerError as exc:
            self.host.report(exc)
            return
        app_settings().setValue("export/last_dir", str(Path(path).parent))
        self.host.show_status(f"Saved {path}")

    # -- help ----------------------------------------------------------------------------
    def _on_help_action_triggered(self) -> None:
        from ibviewer.gui.dialogs.help_dialog import HelpDialog

        HelpDialog(self.host.window()).show()

    def _on_about_action_triggered(self) -> None:
        QMessageBox.about(
            self.host.window(),
            "About ibviewer",
            f"<h3>ibviewer {__version__}</h3>"
            "<p>Look inside trained neural networks through information theory: the information plane "
            "(Shwartz-Ziv &amp; Tishby 2017; Saxe et al. 2018), per-layer embeddings, nearest neighbours "
            "and layer probes.</p><p>MIT licence.</p>",
        )
