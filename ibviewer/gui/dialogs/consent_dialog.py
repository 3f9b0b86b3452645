"""Asking the user's consent before opening runs code that came with the input.

Opening raises a :class:`~ibviewer.errors.ConsentRequired` when it would run code the user
did not choose: a model factory named by a run folder or a session
(:class:`~ibviewer.errors.FactoryConsentRequired`, whose ``factory`` says exactly what would be
imported and called) or a file that needs full unpickling
(:class:`~ibviewer.errors.UnsafeCheckpointError`). :class:`ConsentDialog` shows exactly that and
defaults to *Don't Open*; only *Run It and Open* gives consent, for this one opening (consent
is never stored: not in sessions, not in the recent runs).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from ibviewer.errors import ConsentRequired, FactoryConsentRequired, UnsafeCheckpointError

__all__ = ["ConsentDialog", "consent_option", "refusal_text"]


def consent_option(exc: ConsentRequired) -> str:
    """The `RunRequest` field that gives the consent ``exc`` asks for."""
    return "trust_pickle" if isinstance(exc, UnsafeCheckpointError) else "trust_factory"


def what_would_run(exc: ConsentRequired) -> str:
    """One line: exactly what consenting runs."""
    if isinstance(exc, FactoryConsentRequired):
        describe = getattr(exc.factory, "describe", None)
        return describe() if callable(describe) else str(exc.factory)
    if isinstance(exc, UnsafeCheckpointError):
        return f"unpickle {exc.path} fully: any code stored in the file runs"
    return exc.reason


def refusal_text(exc: ConsentRequired) -> str:
    """The refusal in the window's words (no command-line flag): what would run, and how to allow it."""
    return f"{exc.reason} Not opened: open it again and confirm only if you trust where it came from."


class ConsentDialog(QMessageBox):
    """Shows what opening ``path`` would run; ``exec()`` returns ``QMessageBox.StandardButton.Yes`` for consent."""

    def __init__(self, path: str | Path, exc: ConsentRequired, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.exc = exc
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Run code from this input?")
        self.what = what_would_run(exc)
        source = "This file" if isinstance(exc, UnsafeCheckpointError) else "This run"
        self.setText(
            f"<b>{escape(Path(path).name or str(path), quote=False)}</b>: {source} asks ibviewer to run code that came with it."
            f"<p>Opening it would <b>{escape(self.what, quote=False)}</b>.</p>"
        )
        self.setInformativeText(
            f"{escape(exc.reason, quote=False)}<p>That code runs with your rights and can do anything you can. "
            "Open it only if you wrote it or trust where it came from. This answer is not remembered.</p>"
        )
        self.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        self.button(QMessageBox.StandardButton.Yes).setText("Run It and Open")
        self.button(QMessageBox.StandardButton.No).setText("Don't Open")
        self.setDefaultButton(QMessageBox.StandardButton.No)
        self.setEscapeButton(QMessageBox.StandardButton.No)

    def ask(self) -> bool:
        """Show the dialog (modal); True only when the user chose to run the code."""
        return self.exec() == QMessageBox.StandardButton.Yes
