"""Persistent preferences (QSettings): window layout, recent runs, the last model factory and dataset, the cluster.

Stored as an INI file under the organisation/application name; tests redirect it with
``QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp_dir)``.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

__all__ = [
    "ORGANIZATION", "APPLICATION", "app_settings", "recent_runs", "add_recent_run", "MAX_RECENT", "saved_scheduler",
    "save_scheduler",
]

ORGANIZATION = "ibviewer"
APPLICATION = "ibviewer"
MAX_RECENT = 10


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def recent_runs(settings: QSettings | None = None) -> list[dict[str, Any]]:
    """Recently opened runs, newest first: dicts with path, model, model_kwargs, dataset."""
    settings = settings or app_settings()
    raw = settings.value("recent/runs", "[]")
    try:
        entries = json.loads(raw if isinstance(raw, str) else "[]")
    except json.JSONDecodeError:
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)]


def add_recent_run(entry: dict[str, Any], settings: QSettings | None = None) -> list[dict[str, Any]]:
    settings = settings or app_settings()
    entries = [e for e in recent_runs(settings) if e.get("path") != entry["path"]]
    entries.insert(0, entry)
    entries = entries[:MAX_RECENT]
    settings.setValue("recent/runs", json.dumps(entries))
    return entries


def saved_scheduler(settings: QSettings | None = None) -> str | None:
    """Where analyses ran last (None: this process; ``RunRequest.scheduler``); an unusable value reads as None."""
    from ibviewer.core.config import parse_scheduler
    from ibviewer.errors import IBViewerError

    raw = (settings or app_settings()).value("analysis/scheduler", "")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parse_scheduler(raw)
    except IBViewerError:
        return None
    return raw.strip()


def save_scheduler(scheduler: str | None, settings: QSettings | None = None) -> None:
    (settings or app_settings()).setValue("analysis/scheduler", scheduler or "")
