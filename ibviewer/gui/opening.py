"""How the window opens what the user picks (File > Open, Open Folder, a drop): look, ask, open, ask consent.

`OpenFlow.open_with_dialogs` surveys the path first (:func:`ibviewer.core.run.survey`: what
it holds, without loading anything): something ibviewer does not open is one line in the
error dialog; a Lightning root with several versions offers the choice; a folder, or an
input that still needs a model factory or a dataset, shows the open dialog (what was found,
then what is needed); a file that needs nothing opens at once.

When opening fails because it would run code the user did not choose (a
:class:`~ibviewer.errors.ConsentRequired`), `OpenFlow.after_failure` shows exactly what would
run (`ConsentDialog`) and reopens the same request with that one consent only if the user
agrees. Consent is never stored: the recent runs and sessions keep no consent, so reopening
asks again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QMimeData, QObject
from PySide6.QtWidgets import QDialog, QInputDialog, QWidget

from ibviewer.core.run.survey import Survey, survey
from ibviewer.errors import ConsentRequired, IBViewerError
from ibviewer.gui.controller import AnalysisController
from ibviewer.gui.dialogs.consent_dialog import ConsentDialog, consent_option
from ibviewer.gui.dialogs.open_dialog import OpenRunDialog

__all__ = ["OpenFlow", "OpenHost", "dropped_path", "RETRIED", "DECLINED", "FAILED"]

#: what `OpenFlow.after_failure` did
RETRIED, DECLINED, FAILED = "retried", "declined", "failed"


class OpenHost(Protocol):
    """What the flow asks of the window."""

    show_dialogs: bool

    def window(self) -> QWidget: ...

    def open_path(self, path: str | Path, **options: Any) -> None: ...

    def report(self, exc: BaseException) -> None: ...

    def show_status(self, text: str) -> None: ...


def dropped_path(mime: QMimeData) -> str | None:
    """The first local file or folder in a drag's data (None when it carries none)."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            return url.toLocalFile()
    return None


class OpenFlow(QObject):
    """Opens picked paths through the dialogs they need, and asks consent when opening needs it."""

    def __init__(self, host: OpenHost, controller: AnalysisController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.controller = controller
        self.last_survey: Survey | None = None

    def open_with_dialogs(self, path: str | Path) -> None:
        """Open ``path``, showing what was found and asking for what is still needed (see the module docstring)."""
        path = Path(path)
        if path.name == "run.json":
            path = path.parent
        found = survey(path)
        if found.opens and len(found.choices) > 1:
            chosen = self.choose_version(found)
            if chosen is None:
                return
            path, found = chosen, survey(chosen)
        self.last_survey = found
        if not found.opens:
            self.host.report(IBViewerError(" ".join(found.lines())))
            return
        if not (path.is_dir() or found.needs_model or found.needs_dataset):
            self.host.open_path(str(path))
            return
        dialog = OpenRunDialog(str(path), self.host.window(), found, self.controller.open_defaults.max_samples)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        values = dialog.values()
        options = {key: values[key] for key in ("model", "model_kwargs", "dataset", "max_samples", "trust_pickle")}
        if dialog.asks_model and values["model"]:
            options["trust_factory"] = True  # the user named the factory in the dialog: naming it is choosing it
        self.host.open_path(str(path), **options)

    def choose_version(self, found: Survey) -> Path | None:
        """Which of several runs under a training root to open (newest first, preselected); None when cancelled."""
        names = [str(choice.relative_to(found.path)) if choice != found.path else choice.name for choice in found.choices]
        name, ok = QInputDialog.getItem(
            self.host.window(), "Choose a Run",
            f"{found.path.name} holds {len(names)} training runs (newest first). Which one to open?", names, 0, False,
        )  # fmt: skip
        return found.choices[names.index(name)] if ok and name in names else None

    def after_failure(self, exc: BaseException) -> str:
        """Opening failed with ``exc``: ask consent when that is why, and reopen with it if given.

        Returns `RETRIED` (reopening with consent), `DECLINED` (the user said no: not an
        error) or `FAILED` (anything else; the caller reports it). Without dialogs (tests,
        screenshots) consent is never given.
        """
        request = self.controller.opening
        if not isinstance(exc, ConsentRequired) or request is None or not self.host.show_dialogs:
            return FAILED
        option = consent_option(exc)
        if getattr(request, option):
            return FAILED  # consent was given and it still asks: never loop
        if not ConsentDialog(request.path, exc, self.host.window()).ask():
            self.host.show_status(f"Not opened: {Path(request.path).name} would run code you did not confirm")
            return DECLINED
        self.controller.open_request(replace(request, **{option: True}))
        return RETRIED
