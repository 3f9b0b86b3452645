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
    """Check a decoded ``run.json`` and turn it into a :class:`Manifest`.

    Unknown keys are ignored (a version-1 reader opens files with later minor additions).

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
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RunFormatError(
            f"{where} is run format version {version!r}; this ibviewer reads and writes version {FORMAT_VERSION}. "
            "Upgrade ibviewer."
        )
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise RunFormatError(f"{where}: \"model\" must be an object with \"factory\" and \"kwargs\", got {model!r}.")
    factory = model.get("factory")
    kwargs = model.get("kwargs") or {}
    if factory is not None and not isinstance(factory, str):
        raise RunFormatError(f"{where}: the model factory must be a \"module:callable\" string, got {factory!r}.")
    if not isinstance(kwargs, dict):
        raise RunFormatError(f"{where}: the model kwargs must be a JSON object, got {kwargs!r}.")
    layers = data.get("layers")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(name, str) for name in layers)):
        raise RunFormatError(f"{where}: \"layers\" must be a list of layer names, got {layers!r}.")
    split = data.get("split") or {}
    split_file = split.get(SPLIT_KEY) if isinstance(split, dict) else None
    extra = data.get("extra")
    return Manifest(
        factory=factory,
        dataset=str(data["dataset"]) if data.get("dataset") is not None else None,
        epochs=_parse_epochs(data.get("epochs", []), where),
        kwargs=kwargs,
        name=str(data["name"]) if data.get("name") else None,
        layers=tuple(layers) if layers else None,
        split=str(split_file) if split_file else None,
        extra=extra if isinstance(extra, dict) else None,
        version=version,
    )


def _parse_epochs(raw: object, where: str | Path) -> tuple[ManifestEpoch, ...]:
    if not isinstance(raw, list):
        raise RunFormatError(f"{where}: \"epochs\" must be a list of saved epochs, got {type(raw).__name__}.")
    entries = []
    for item in raw:
        try:
            weights = item["weights"]
            if not isinstance(weights, str) or not weights:
                raise ValueError(f"weights must be a file name, got {weights!r}")
            metrics = {str(k): float(v) for k, v in (item.get("metrics") or {}).items()}
            entries.append(ManifestEpoch(int(item["epoch"]), weights, metrics))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RunFormatError(f"{where}: epoch entry {item!r} is malformed ({exc}).") from exc
    epochs = [entry.epoch for entry in entries]
    if len(set(epochs)) != len(epochs):
        raise RunFormatError(f"{where}: epochs {sorted(epochs)} repeat a number; each saved epoch is listed once.")
    return tuple(entries)


def read_manifest(path: Path) -> Manifest:
    """Read and check the manifest file ``path`` (a folder's ``run.json``).

    Raises
    ------
    RunFormatError
        Unreadable, not JSON, or not a valid manifest (see :func:`parse_manifest`).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFormatError(f"Could not read {path} ({exc}). It should be the JSON manifest of an ibviewer run.") from exc
    return parse_manifest(data, path)


def read_split(path: Path) -> np.ndarray:
    """The held-out sample indices stored in a split file, as int64.

    Raises
    ------
    RunFormatError
        The file is missing, damaged or has no ``test_indices`` array.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            return np.asarray(archive[SPLIT_KEY]).astype(np.int64)
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise RunFormatError(f"Could not read the test split {Path(path).name} of {Path(path).parent.name} ({exc}).") from exc
