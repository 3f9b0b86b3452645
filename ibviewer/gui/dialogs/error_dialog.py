"""`show_error`: every failure the user sees ends here (worker failures and the excepthook).

An `IBViewerError` is expected: its message says what happened and what to do, shown
plainly (a `ConsentRequired` in the window's words: it names no command-line flag).
Anything else is a bug: a short message, and the traceback under "Details".
The dialog is window-modal but not blocking (``open()``), so the window keeps running.
"""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ibviewer.errors import ConsentRequired, IBViewerError
from ibviewer.gui.dialogs.consent_dialog import refusal_text

__all__ = ["show_error", "build_error_dialog", "error_summary"]

log = logging.getLogger(__name__)


def error_summary(exc: BaseException) -> str:
    """One line for the status bar or the dialog (a refusal for lack of consent in the window's words, no flag)."""
    if isinstance(exc, ConsentRequired):
        return refusal_text(exc)
    if isinstance(exc, IBViewerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def build_error_dialog(parent: QWidget | None, exc: BaseException, title: str = "ibviewer") -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    if isinstance(exc, IBViewerError):
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(error_summary(exc))
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText(f"Something went wrong: {type(exc).__name__}: {exc}")
        box.setInformativeText(
            "This is a bug in ibviewer, not in your data. The window stays usable and the open run is kept. "
            "Please report it with the details below."
        )
        box.setDetailedText("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box


def show_error(parent: QWidget | None, exc: BaseException, title: str = "ibviewer") -> QMessageBox:
    """Show ``exc`` in a non-blocking dialog and return it (tests read its text)."""
    if not isinstance(exc, IBViewerError):
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    box = build_error_dialog(parent, exc, title)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box
