"""How an output file was made, written beside it: ``probes.csv`` -> ``probes.json``.

A figure must be rebuildable from the files alone, so every table ibviewer writes can carry
a JSON sidecar of its settings (split, sample cap, method, parameters). The CSV itself stays
a plain table any reader opens without options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ibviewer.core.cache import atomic_write_text

__all__ = ["sidecar_path", "write_sidecar", "read_sidecar"]

SIDECAR_FORMAT = "ibviewer-output-metadata"


def sidecar_path(path: str | Path) -> Path:
    """The sidecar of an output file: the same name with ``.json`` for its suffix."""
    return Path(path).with_suffix(".json")


def write_sidecar(path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``metadata`` (JSON, keys sorted, atomically) beside the output ``path``; returns the sidecar's path."""
    target = sidecar_path(path)
    text = json.dumps({"format": SIDECAR_FORMAT, "version": 1, **metadata}, indent=1, sort_keys=True, default=str)
    atomic_write_text(target, text + "\n")
    return target


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The metadata written beside the output ``path`` (for tests and for rebuilding a figure)."""
    return json.loads(sidecar_path(path).read_text(encoding="utf-8"))
