"""Every file an opened run reads, and every path a run folder names, goes through here.

Openers and sources never call ``open``, ``np.load``, ``torch.load`` or the factory
importer themselves: they ask this module. Checks that apply to all inputs (paths that
must stay inside their run folder, size limits, consent before a run folder's code
runs) belong here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ibviewer.core import run_format
from ibviewer.core.checkpoint import (
    CHECKPOINT_SUFFIXES,
    LoadedCheckpoint,
    build_model,
    file_digest,
    load_checkpoint,
)
from ibviewer.core.datasets import load_dataset
from ibviewer.core.types import Dataset
from ibviewer.errors import ActivationError, CheckpointLoadError, RunFormatError

if TYPE_CHECKING:
    from torch import nn
    from torch.export import ExportedProgram

__all__ = [
    "WEIGHT_SUFFIXES",
    "weight_files",
    "named_file",
    "read_manifest",
    "read_split",
    "read_checkpoint",
    "read_export",
    "is_activation_archive",
    "read_archive",
    "read_dataset",
    "build_factory_model",
    "digest",
]

#: What a file of plain weights ends in.
WEIGHT_SUFFIXES = (*CHECKPOINT_SUFFIXES, ".safetensors")


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def named_file(folder: Path, name: str, manifest: Path) -> Path:
    """A file that the manifest ``manifest`` of run folder ``folder`` names, which must exist.

    Raises
    ------
    RunFormatError
        The file does not exist.
    """
    path = folder / name
    if not path.exists():
        raise RunFormatError(f"{manifest} names {name}, which does not exist. The run folder is incomplete.")
    return path


def read_manifest(folder: Path) -> run_format.Manifest:
    """The checked manifest of the run folder ``folder``."""
    return run_format.read_manifest(folder / run_format.MANIFEST_NAME)


def read_split(folder: Path, name: str) -> np.ndarray:
    """The held-out sample indices in the split file ``name`` of run folder ``folder``."""
    return run_format.read_split(folder / name)


def read_checkpoint(path: Path, trust_pickle: bool = False) -> LoadedCheckpoint:
    """One checkpoint file, loaded without running its code unless ``trust_pickle``."""
    return load_checkpoint(path, trust_pickle=trust_pickle)


def read_export(path: Path) -> ExportedProgram:
    """A ``torch.export`` program written by ``torch.export.save``."""
    import torch

    try:
        return torch.export.load(str(path))
    except Exception as exc:  # torch.export.load raises many kinds on foreign files
        raise CheckpointLoadError(
            f"Could not load {path.name} as a torch.export program ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Write it with torch.export.save()."
        ) from exc


def is_activation_archive(path: Path) -> bool:
    """Whether the safetensors file ``path`` holds activations (``act/...`` keys) rather than weights.

    Raises
    ------
    CheckpointLoadError
        The file is not a readable safetensors file.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return any(key.startswith("act/") for key in handle.keys())
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointLoadError(
            f"{path.name} is not a valid safetensors file ({exc}). It may be damaged or another kind of file renamed."
        ) from exc


def read_archive(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every array of an activations archive (``.npz`` or ``.safetensors``) and the key order.

    The order is the order of the file for ``.npz`` and name order for safetensors.
    """
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}, list(archive.files)
        except (OSError, ValueError, EOFError) as exc:
            raise ActivationError(f"Could not read {path.name} as a .npz archive ({exc}).") from exc
    from safetensors.numpy import load_file

    arrays = load_file(str(path))
    return dict(arrays), sorted(arrays)


def read_dataset(spec: str | Dataset | None, base_dir: Path | None = None) -> Dataset | None:
    """The dataset ``spec`` names (relative files taken from ``base_dir``), or ``spec`` if already loaded."""
    if spec is None or isinstance(spec, Dataset):
        return spec
    return load_dataset(spec, base_dir)


def build_factory_model(spec: str, kwargs: Mapping[str, Any], base_dir: Path | None = None) -> nn.Module:
    """The model a ``module:callable`` factory builds (a ``.py`` module may sit in ``base_dir``)."""
    return build_model(spec, kwargs, base_dir)


def digest(path: Path) -> str:
    """SHA-256 of a file's contents (activation cache keys follow what the files hold)."""
    return file_digest(path)


# ---- training folders (transformers Trainer, Lightning): small text files and sub-folders ----------

#: The largest description file (JSON, CSV, YAML) of a training folder that is read.
TEXT_LIMIT = 64 * 2**20


def regular_files(folder: Path) -> list[Path]:
    """The regular files directly inside ``folder`` (no links, no folders), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())


def subfolders(folder: Path) -> list[Path]:
    """The folders directly inside ``folder`` (links to folders left out), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())


def read_text(path: Path, limit: int = TEXT_LIMIT) -> str:
    """A small UTF-8 text file of a training folder (``trainer_state.json``, ``metrics.csv``, ...).

    Raises
    ------
    RunFormatError
        Not a regular file, larger than ``limit`` bytes, unreadable or not UTF-8.
    """
    try:
        if not path.is_file() or path.is_symlink():
            raise RunFormatError(f"{path} is not a regular file; ibviewer reads only regular files of a run folder.")
        size = path.stat().st_size
        if size > limit:
            raise RunFormatError(f"{path.name} is {size / 2**20:.0f} MiB, more than a description file may be ({limit / 2**20:.0f} MiB).")
        with open(path, "rb") as handle:
            return handle.read(limit + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFormatError(f"Could not read {path} ({exc}).") from exc


def read_json(path: Path, limit: int = TEXT_LIMIT) -> Any:
    """A small JSON file of a training folder (``config.json``, ``trainer_state.json``), decoded.

    Raises
    ------
    RunFormatError
        See :func:`read_text`, or not valid JSON.
    """
    import json

    text = read_text(path, limit)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFormatError(f"{path} is not valid JSON ({exc}); it may be damaged or still being written.") from exc


__all__ += ["TEXT_LIMIT", "regular_files", "subfolders", "read_text", "read_json"]
