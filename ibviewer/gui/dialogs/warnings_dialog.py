"""The warnings panel (opened from "⚠ N warnings" in the status bar): each warning and the action that fixes it.

Two sources, one list: the text warnings the jobs raised (`JobHub.warnings`, shown in the
GUI's words: command-line flags in them are dropped), and the structured advice about the
shown results (`AppState.advice`, from `ibviewer.core.advice`), where an advice with a
settings change gets a button that applies it through the normal settings path.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ibviewer.core.advice import Advice
from ibviewer.gui.jobs import JobHub
from ibviewer.gui.state import AppState

__all__ = ["WarningsDialog", "gui_words", "warning_count"]

# "(n_bins / --bins)", "(--estimator renyi)": the command line's names, not the window's
_FLAG_ASIDE = re.compile(r"\s*\((?:[^()]*?\s)?--[a-z][^()]*\)")
_FLAG = re.compile(r"\s--[a-z][a-z-]*(?:\s+[a-z0-9_.]+)?")


def gui_words(text: str) -> str:
    """A core warning as the window says it: asides naming command-line flags are dropped."""
    text = _FLAG_ASIDE.sub("", text)
    return _FLAG.sub("", text)


def warning_count(jobs: JobHub, state: AppState) -> int:
    """How many items the panel lists (the status bar's "⚠ N warnings")."""
    return len(jobs.warnings) + len(state.advice)


class WarningsDialog(QDialog):
    """Every warning of the open run's jobs and every advice about its results, newest last; follows both while open.

    Signals
    -------
    advice_chosen(object)
        The user clicked an advice's button (the `Advice`); the window applies its settings change.
    """

    advice_chosen = Signal(object)

    def __init__(self, jobs: JobHub, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Warnings")
        self.resize(680, 380)
        self.jobs = jobs
        self.state = state
        self.action_buttons: list[QPushButton] = []
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("What the computations warned about, and what to change:", self))
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        layout.addWidget(self.scroll, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.clear_button = buttons.addButton("Clear", QDialogButtonBox.ButtonRole.ResetRole)
        self.clear_button.clicked.connect(jobs.clear_warnings)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        jobs.warnings_changed.connect(self.refresh)
        state.advice_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.action_buttons = []
        body = QWidget()
        rows = QVBoxLayout(body)
        rows.setAlignment(Qt.AlignmentFlag.AlignTop)
        for advice in self.state.advice:
            rows.addWidget(self._row(advice.message, advice))
        for message in self.jobs.warnings:
            rows.addWidget(self._row(gui_words(message)))
        if not self.state.advice and not self.jobs.warnings:
            rows.addWidget(QLabel("No warnings.", body))
        self.scroll.setWidget(body)

    def _row(self, text: str, advice: Advice | None = None) -> QWidget:
        row = QFrame()
        row.setFrameShape(QFrame.Shape.StyledPanel)
        line = QHBoxLayout(row)
        label = QLabel(f"⚠ {text}", row)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line.addWidget(label, 1)
        if advice is not None and advice.changes:
            button = QPushButton(advice.action or "Apply", row)
            button.setToolTip("Change the settings accordingly (recomputes what they affect)")
            button.clicked.connect(lambda _checked=False, a=advice: self.advice_chosen.emit(a))
            line.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
            self.action_buttons.append(button)
        return row

    def shown_warnings(self) -> list[str]:
        """The texts listed, advice first (for tests)."""
        return [label.text().removeprefix("⚠ ") for label in self.scroll.widget().findChildren(QLabel) if label.text().startswith("⚠ ")]
