"""A help page in a small non-modal window (read from resources/help)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ibviewer.gui.resources import help_html

__all__ = ["HelpDialog"]


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, page: str = "information_plane") -> None:
        super().__init__(parent)
        self.setWindowTitle("How to read the information plane")
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(help_html(page))
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.resize(620, 640)
