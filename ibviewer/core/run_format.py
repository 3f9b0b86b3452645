"""The ibviewer run format, defined once: file names, the manifest's fields, reading and writing them.

The :class:`~ibviewer.core.recorder.Recorder` writes run folders with it and the
``ibviewer`` source of :mod:`ibviewer.core.run` reads them with it; the layout is
documented in ``docs/run-format.md`` (version 1)::

    my_run/
      run.json                     # MANIFEST_NAME: a Manifest, as Manifest.to_json() writes it
      split.npz                    # SPLIT_NAME (optional): int array SPLIT_KEY of held-out samples
      weights/epoch_000010.safetensors   # weights_name(10): the state_dict of one saved epoch
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.errors import RunFormatError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "SPLIT_NAME",
    "SPLIT_KEY",
    "WEIGHTS_DIR",
    "weights_name",
    "ManifestEpoch",
    "Manifest",
    "parse_manifest",
    "parse_manifest_text",
    "read_manifest",
    "read_split",
]

FORMAT_NAME = "ibviewer-run"
FORMAT_VERSION = 1
MANIFEST_NAME = "run.json"
SPLIT_NAME = "split.npz"
SPLIT_KEY = "test_indices"
WEIGHTS_DIR = "weights"


def weights_name(epoch: int) -> str:
    """Where the recorder keeps the weights of ``epoch``, relative to the run folder."""
    return f"{WEIGHTS_DIR}/epoch_{int(epoch):06d}.safetensors"


@dataclass(frozen=True)
class ManifestEpoch:
    """One saved epoch of a manifest: its number, its weights file (relative to the folder), its metrics."""

    epoch: int
    weights: str
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"epoch": self.epoch, "weights": self.weights}
        if self.metrics:
            entry["metrics"] = dict(self.metrics)
        return entry


@dataclass(frozen=True)
class Manifest:
    """The contents of ``run.json``.

    Parameters
    ----------
    factory : str or None
        ``"module:callable"`` building the model. Required by the format; a reader
        given a model factory by the user accepts a manifest without one.
    dataset : str or None
        Dataset spec (``digits``, ``ib12``, a ``.npz`` relative to the folder). Required
        by the format; a reader given a dataset accepts a manifest without one.
    epochs : tuple of ManifestEpoch
        In the order written (training order); empty before the first snapshot.
    kwargs : dict
        JSON keyword arguments of the factory.
    name : str, optional
        Shown in titles.
    layers : tuple of str, optional
        Default layers to capture.
    split : str, optional
        The ``.npz`` file (relative to the folder) holding ``test_indices``.
    extra : dict, optional
        Any JSON the writer keeps with the run.
    version : int
        The run-format version of the file (at most :data:`FORMAT_VERSION`).
    """

    factory: str | None
    dataset: str | None
    epochs: tuple[ManifestEpoch, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    layers: tuple[str, ...] | None = None
    split: str | None = None
    extra: Mapping[str, Any] | None = None
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON object, keys in the order they are written."""
        data: dict[str, Any] = {"format": FORMAT_NAME, "version": self.version}
        if self.name:
            data["name"] = self.name
        data["model"] = {"factory": self.factory, "kwargs": dict(self.kwargs)}
        data["dataset"] = self.dataset
        if self.layers is not None:
            data["layers"] = list(self.layers)
        if self.split is not None:
            data["split"] = {SPLIT_KEY: self.split}
        data["epochs"] = [entry.to_dict() for entry in self.epochs]
        if self.extra is not None:
            data["extra"] = dict(self.extra)
        return data

    def to_json(self) -> str:
        """Indented JSON with one line per epoch entry (a long run stays readable)."""
        lines = []
        for key, value in self.to_dict().items():
            if key == "epochs":
                body = ",\n".join(f"  {json.dumps(entry)}" for entry in value)
                lines.append(f' "epochs": [\n{body}\n ]' if value else ' "epochs": []')
            else:
                lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
        return "{\n" + ",\n".join(lines) + "\n}\n"


def parse_manifest(data: object, where: str | Path = MANIFEST_NAME) -> Manifest:
    """Check a decoded ``run.json`` against the schema and turn it into a :class:`Manifest`.

    Every field has one JSON type (see ``docs/run-format.md``); a field of another type,
    an epoch that is not a whole number in range, or an epoch listed twice is refused
    with the field named. Unknown keys are ignored (a version-1 reader opens files with
    later minor additions).

    Parameters
    ----------
    data : object
        What ``json.loads`` gave.
    where : str or Path
        Named in error messages (the manifest's path).

    Raises
    ------
    RunFormatError
        Not an ibviewer manifest, a newer format version, or a malformed field.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise RunFormatError(f"{where} is not an ibviewer run manifest (no \"format\": \"{FORMAT_NAME}\").")
    version = data.get("version")
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise RunFormatError(
            f"{where} is run format version {_short(version)}; this ibviewer reads and writes version {FORMAT_VERSION}. "
            "Upgrade ibviewer."
        )
    check = _Checker(where)
    model = check.field(data, "model", dict, "an object with \"factory\" and \"kwargs\"") or {}
    factory = check.field(model, "factory", str, "a \"module:callable\" string", label="the model factory")
    kwargs = check.field(model, "kwargs", dict, "a JSON object", label="the model kwargs") or {}
    layers = check.field(data, "layers", list, "a list of layer names")
    if layers is not None and not all(isinstance(name, str) and name for name in layers):
        raise RunFormatError(f"{where}: \"layers\" must be a list of layer names, got {_short(layers)}.")
    split = check.field(data, "split", dict, f"an object with \"{SPLIT_KEY}\"") or {}
    split_file = check.field(split, SPLIT_KEY, str, "a file name", label=f"split.{SPLIT_KEY}")
    extra = check.field(data, "extra", dict, "a JSON object")
    return Manifest(
        factory=factory,
        dataset=check.field(data, "dataset", str, "a dataset name or file"),
        epochs=_parse_epochs(check.field(data, "epochs", list, "a list of saved epochs") or [], where),
        kwargs=kwargs,
        name=check.field(data, "name", str, "text") or None,
        layers=tuple(layers) if layers else None,
        split=split_file or None,
        extra=extra,
        version=version,
    )


def parse_manifest_text(text: bytes | str, where: str | Path = MANIFEST_NAME) -> Manifest:
    """Decode and check the bytes of a ``run.json`` (see :func:`parse_manifest`).

    Raises
    ------
    RunFormatError
        Not UTF-8 JSON (nesting too deep included), or not a valid manifest.
    """
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RunFormatError(f"Could not read {where} ({why}). It should be the JSON manifest of an ibviewer run.") from exc
    return parse_manifest(data, where)


#: the largest epoch number a manifest may hold (JSON numbers beyond it lose precision)
MAX_EPOCH = 2**53


class _Checker:
    """Reads typed fields of a JSON object, naming the manifest and field in its errors."""

    def __init__(self, where: str | Path) -> None:
        self.where = where

    def field(self, data: dict, key: str, kind: type, description: str, label: str | None = None) -> Any:
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise RunFormatError(f"{self.where}: {label or json.dumps(key)} must be {description}, got {_short(value)}.")
        return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_epochs(raw: list, where: str | Path) -> tuple[ManifestEpoch, ...]:
    entries = []
    for item in raw:
        if not isinstance(item, dict):
            raise RunFormatError(f"{where}: epoch entry {_short(item)} is malformed (it must be an object).")
        epoch, weights, metrics = item.get("epoch"), item.get("weights"), item.get("metrics") or {}
        problem = None
        if not _is_int(epoch):
            problem = "its epoch must be a whole number" + (f", got {_short(epoch)}" if epoch is not None else "")
        elif not -MAX_EPOCH <= epoch <= MAX_EPOCH:
            problem = f"its epoch {epoch} is out of range"
        elif not isinstance(weights, str) or not weights:
            problem = f"weights must be a file name, got {_short(weights)}"
        elif not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
        ):
            problem = f"metrics must be an object of numbers, got {_short(metrics)}"
        if problem:
            raise RunFormatError(f"{where}: epoch entry {_short(item)} is malformed ({problem}).")
        entries.append(ManifestEpoch(epoch, weights, {str(k): float(v) for k, v in metrics.items()}))
    epochs = [entry.epoch for entry in entries]
    if len(set(epochs)) != len(epochs):
        repeated = sorted({e for e in epochs if epochs.count(e) > 1})
        raise RunFormatError(
            f"{where}: epoch {', '.join(map(str, repeated))} is listed more than once; each saved epoch is listed once "
            "(a repeated epoch would silently drop weights)."
        )
    return tuple(entries)


def read_manifest(path: Path) -> Manifest:
    """Read and check the manifest file ``path`` (a folder's ``run.json``).

    Raises
    ------
    RunFormatError
        Unreadable, not JSON, or not a valid manifest (see :func:`parse_manifest`).
    """
    from ibviewer.core.safe_read import read_bounded

    return parse_manifest_text(read_bounded(Path(path), 64 << 20, RunFormatError, "manifest"), path)


def read_split(path: Path) -> np.ndarray:
    """The held-out sample indices stored in a split file, as int64.

    Raises
    ------
    RunFormatError
        The file is missing, damaged, too large or has no integer ``test_indices`` array.
    """
    from ibviewer.core.safe_read import load_npz

    path = Path(path)
    where = f"the test split {path.name} of {path.parent.name}"
    arrays = load_npz(path, RunFormatError, what="test split")
    indices = arrays.get(SPLIT_KEY)
    if indices is None or indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise RunFormatError(f"Could not read {where}: it needs a 1-D integer array {SPLIT_KEY!r}.")
    return indices.astype(np.int64)
