"""ibviewer run folders (``run.json`` + safetensors weights), as the Recorder writes them.

The manifest names the model factory, the dataset, the default layers, a test split and
the weights of each epoch (see :mod:`ibviewer.core.run_format`); every file it names is
resolved through :mod:`ibviewer.core.run.files`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ibviewer.core.run import files
from ibviewer.core.run.checkpoints import CheckpointSource, ModelFactory
from ibviewer.core.run.source import EpochEntry
from ibviewer.core.run_format import MANIFEST_NAME
from ibviewer.errors import RunFormatError

if TYPE_CHECKING:
    from ibviewer.core.run.detect import OpenRequest

__all__ = ["RunFolderOpener"]


class RunFolderOpener:
    """A folder holding ``run.json`` (or the ``run.json`` file itself)."""

    def claims(self, path: Path) -> bool:
        return (path.is_dir() and (path / MANIFEST_NAME).exists()) or path.name == MANIFEST_NAME

    def needs_model(self, path: Path) -> bool:
        return False  # the manifest names its factory

    def needs_dataset(self, path: Path) -> bool:
        return False  # ... and its dataset

    def open(self, path: Path, request: OpenRequest) -> CheckpointSource:
        folder = path if path.is_dir() else path.parent
        where = folder / MANIFEST_NAME
        manifest = files.read_manifest(folder)
        kwargs = request.model_kwargs if request.model_kwargs is not None else manifest.kwargs
        if request.model is not None:  # the user's own factory, found from the working folder
            factory = ModelFactory(request.model, kwargs, trusted=request.trust_model)
        elif manifest.factory:  # the run's: inside the folder, and run only with consent
            factory = ModelFactory(manifest.factory, kwargs, base_dir=folder, trusted=request.trust_factory)
        else:
            raise RunFormatError(f"{where} names no model factory (\"model\": {{\"factory\": ...}}).")
        dataset = request.dataset
        if dataset is None:
            if manifest.dataset is None:
                raise RunFormatError(f"{where} names no dataset; pass --dataset.")
            dataset = files.read_dataset(manifest.dataset, folder)
        if not manifest.epochs:
            raise RunFormatError(f"{where} lists no epochs: the run has no saved weights yet.")
        entries = sorted(
            (EpochEntry(e.epoch, files.named_file(folder, e.weights, where), dict(e.metrics)) for e in manifest.epochs),
            key=lambda entry: entry.epoch,
        )
        test_indices = files.read_split(folder, manifest.split) if manifest.split else None
        return CheckpointSource(
            kind="ibviewer", path=folder, name=manifest.name or folder.name, entries=entries, dataset=dataset,
            default_layers=manifest.layers, extra=manifest.extra, test_indices=test_indices,
            factory=factory, trust_pickle=request.trust_pickle,
        )  # fmt: skip
