"""The list of warnings the jobs raised (opened from the "⚠ N warnings" label in the status bar)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QVBoxLayout, QWidget

from ibviewer.gui.jobs import JobHub

__all__ = ["WarningsDialog"]


class WarningsDialog(QDialog):
    """Every warning of the open run's jobs, newest last; follows the hub while open."""

    def __init__(self, jobs: JobHub, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Warnings")
        self.resize(640, 320)
        self.jobs = jobs
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("What the computations warned about (the advice says what to change):", self))
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.clear_button = buttons.addButton("Clear", QDialogButtonBox.ButtonRole.ResetRole)
        self.clear_button.clicked.connect(jobs.clear_warnings)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        jobs.warnings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        self.list.addItems(self.jobs.warnings)
        self.list.scrollToBottom()

    def shown_warnings(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
