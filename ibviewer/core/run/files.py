"""Every file an opened run reads, and every path a run folder names, goes through here.

Openers and sources never call ``open``, ``np.load``, ``torch.load`` or the factory
importer themselves: they ask this module. What holds for every input lives here:

- a run folder names files only inside itself (:func:`inside`): no absolute paths, no
  ``..``, no symlinks leading out;
- only regular files are read, and what they declare is checked against the memory
  limit before it is read (:mod:`ibviewer.core.safe_read`);
- a model factory is imported and called only when it is one of ``ibviewer.models`` or
  the user consented (:func:`factory_call`; :class:`FactoryCall` says exactly what
  would run);
- ``.pt2`` programs are inspected before torch loads them (:mod:`.export_check`).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    source_digest,
)
from ibviewer.core.datasets import BUILTIN_DATASETS, load_dataset
from ibviewer.core.naming import printable
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run.export_check import check_export_archive
from ibviewer.core.safe_read import (
    DeclaredArray,
    check_regular,
    load_npz,
    memory_limit_gb,
    read_bounded,
    safetensors_declared,
)
from ibviewer.core.types import Dataset
from ibviewer.errors import (
    ActivationError,
    CheckpointLoadError,
    DatasetError,
    FactoryConsentRequired,
    ModelFactoryError,
    RunFormatError,
)

if TYPE_CHECKING:
    from torch import nn
    from torch.export import ExportedProgram

__all__ = [
    "WEIGHT_SUFFIXES",
    "BUILTIN_FACTORY_MODULE",
    "inside",
    "weight_files",
    "named_file",
    "read_manifest",
    "read_split",
    "read_checkpoint",
    "read_export",
    "is_activation_archive",
    "read_archive",
    "read_dataset",
    "FactoryCall",
    "factory_call",
    "build_factory_model",
    "factory_digest",
    "digest",
]

#: What a file of plain weights ends in.
WEIGHT_SUFFIXES = (*CHECKPOINT_SUFFIXES, ".safetensors")
#: The one module whose factories run without the user's consent.
BUILTIN_FACTORY_MODULE = "ibviewer.models"
#: ibviewer's other factories that run without consent: they build only classes a library ships
#: (``model_from_config`` builds a transformers model class from its config, never remote code,
#: exactly as opening a Trainer folder's ``config.json`` does).
BUILTIN_FACTORIES = frozenset({("ibviewer.integrations.transformers", "model_from_config")})


def inside(folder: Path, name: str, manifest: Path, what: str = "file") -> Path:
    """The path a run folder's manifest names, resolved, which must lie inside ``folder``.

    Raises
    ------
    RunFormatError
        ``name`` is absolute, climbs out with ``..``, or resolves (through symlinks) outside the folder.
    """
    relative = Path(name)
    root = folder.resolve()
    target = (root / relative).resolve()
    if relative.is_absolute() or ".." in relative.parts or name.startswith("~") or not target.is_relative_to(root):
        raise RunFormatError(
            f"{manifest} names the {what} {name!r}, which lies outside the run folder {folder}; a run folder may "
            "only name files inside itself. Move the file into the folder."
        )
    return target


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint files directly inside ``folder``, sorted by name (regular files only)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def named_file(folder: Path, name: str, manifest: Path) -> Path:
    """A file that the manifest ``manifest`` of run folder ``folder`` names: inside it, and a regular file.

    Raises
    ------
    RunFormatError
        The file is outside the folder, does not exist, or is not a regular file.
    """
    path = inside(folder, name, manifest, "weights file")
    if not path.exists():
        raise RunFormatError(f"{manifest} names {name}, which does not exist. The run folder is incomplete.")
    check_regular(path, RunFormatError, "weights file")
    return path


def read_manifest(folder: Path) -> run_format.Manifest:
    """The checked manifest of the run folder ``folder``."""
    return run_format.read_manifest(folder / run_format.MANIFEST_NAME)


def read_split(folder: Path, name: str) -> np.ndarray:
    """The held-out sample indices in the split file ``name`` (inside run folder ``folder``)."""
    return run_format.read_split(inside(folder, name, folder / run_format.MANIFEST_NAME, "split file"))


def read_checkpoint(path: Path, trust_pickle: bool = False) -> LoadedCheckpoint:
    """One checkpoint file, loaded without running its code unless ``trust_pickle``."""
    return load_checkpoint(path, trust_pickle=trust_pickle)


def read_export(path: Path, trust_pickle: bool = False) -> ExportedProgram:
    """A ``torch.export`` program written by ``torch.export.save``, inspected before it is loaded.

    The file is read once; unless ``trust_pickle``, :func:`.export_check.check_export_archive`
    refuses anything in those bytes that could run code, and the same bytes are loaded.

    Raises
    ------
    UnsafeCheckpointError
        The program holds pickles, native code or strings torch would run (see export_check).
    CheckpointLoadError
        Not a readable program.
    """
    import torch

    data = read_bounded(path, int(memory_limit_gb() * 1e9), CheckpointLoadError, "program")
    if trust_pickle:
        warnings.warn(f"Loading {path.name} trusting its contents (--trust-pickle): code inside it may run.", stacklevel=3)
    else:
        check_export_archive(data, path.name)
    try:
        return torch.export.load(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:  # torch.export.load raises many kinds on foreign files
        raise CheckpointLoadError(
            f"Could not load {path.name} as a torch.export program ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Write it with torch.export.save()."
        ) from exc


def is_activation_archive(path: Path) -> bool:
    """Whether the safetensors file ``path`` holds activations (``act/...`` keys) rather than weights.

    Reads only the header.

    Raises
    ------
    CheckpointLoadError
        The file is not a readable safetensors file, or not a regular file.
    """
    return any(key.startswith("act/") for key in safetensors_declared(path, CheckpointLoadError))


def read_archive(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every array of an activations archive (``.npz`` or ``.safetensors``) and the key order.

    The order is the order of the file for ``.npz`` and name order for safetensors. What the
    file declares is checked against the memory limit before anything is read.
    """
    if path.suffix == ".npz":
        arrays = load_npz(path, ActivationError, need=_archive_peak, what="activations archive")
        return arrays, list(arrays)
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    safetensors_declared(path, ActivationError)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActivationError(f"{path.name} is not a valid safetensors file ({exc}).") from exc
    return dict(arrays), sorted(arrays)


def _archive_peak(declared: Sequence[DeclaredArray]) -> float:
    """Bytes an archive needs at most: its arrays as read, plus the float32 stacks of its activations.

    (Measured: 1.35x the file for a float32 archive; this bound says 2x, and stays a bound for float16.)
    """
    return sum(a.nbytes for a in declared) + sum(4 * math.prod(a.shape) for a in declared if a.name.startswith("act/"))


def read_dataset(spec: str | Dataset | None, run_folder: Path | None = None) -> Dataset | None:
    """The dataset ``spec`` names, or ``spec`` if already loaded.

    ``run_folder``: the spec comes from that folder's manifest, so a file it names must
    lie inside the folder (built-in names such as ``digits`` stay allowed). Without it the
    spec is the user's own (a path anywhere).
    """
    if spec is None or isinstance(spec, Dataset):
        return spec
    if run_folder is None or str(spec) in BUILTIN_DATASETS:
        return load_dataset(spec)
    manifest = run_folder / run_format.MANIFEST_NAME
    path = inside(run_folder, str(spec), manifest, "dataset")
    if not path.exists():
        raise DatasetError(f"{manifest} names the dataset {spec!r}, which does not exist in the run folder.")
    return load_dataset(path, confine_to=run_folder.resolve())


@dataclass(frozen=True)
class FactoryCall:
    """Exactly what building a model from a ``module:callable`` factory imports and calls.

    Attributes
    ----------
    spec : str
        As given (``"ibviewer.models:mlp"``, ``"model.py:build"``).
    module : str
        The module imported: a dotted name, or the resolved path of a ``.py`` file.
    callable : str
        The name called in it.
    kwargs : mapping
        The keyword arguments it is called with.
    file : Path or None
        The ``.py`` file, resolved, when the module is a file.
    builtin : bool
        One of ibviewer's own factories (runs without consent).
    """

    spec: str
    module: str
    callable: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None
    builtin: bool = False

    def describe(self) -> str:
        """``import /runs/a/model.py and call build(hidden=16)``: what will run, in one line."""
        args = ", ".join(f"{key}={value!r}" for key, value in self.kwargs.items())
        args = args if len(args) <= 200 else args[:200] + "..."
        where = f"the file {self.module}" if self.file is not None else f"the module {self.module}"
        return printable(f"import {where} and call {self.callable}({args})")

    @property
    def importable(self) -> str:
        """The spec the importer takes: the resolved file path for ``.py`` modules."""
        return f"{self.module}:{self.callable}"


_SPEC = re.compile(r"^(?P<module>.+):(?P<callable>[A-Za-z_][A-Za-z0-9_]*)$")


def _builtin_factories() -> frozenset[str]:
    import ibviewer.models as models

    return frozenset(
        name for name in models.__all__
        if callable(getattr(models, name)) and getattr(getattr(models, name), "__module__", "") == models.__name__
    )  # fmt: skip


def _is_builtin(module: str, name: str) -> bool:
    return (module == BUILTIN_FACTORY_MODULE and name in _builtin_factories()) or (module, name) in BUILTIN_FACTORIES


def factory_call(
    spec: str, kwargs: Mapping[str, Any] | None = None, run_folder: Path | None = None, *, trusted: bool = False
) -> FactoryCall:
    """The checked :class:`FactoryCall` of ``spec``, refused unless it is built in or ``trusted``.

    Parameters
    ----------
    spec : str
        ``"module:callable"``; the module is importable or a path to a ``.py`` file.
    kwargs : mapping, optional
    run_folder : Path, optional
        The spec comes from this run folder's manifest: a ``.py`` file must lie inside it.
        Without it the spec is the user's (a ``.py`` path anywhere, relative to the working folder).
    trusted : bool
        The user consented to running this factory (``--model`` naming it, ``--trust-factory``,
        a confirmation in the window).

    Raises
    ------
    ModelFactoryError
        Not of the form ``MODULE:CALLABLE``.
    RunFormatError
        A run folder's ``.py`` factory outside the folder.
    FactoryConsentRequired
        Neither built in nor trusted; ``exc.factory`` is the call that would run.
    """
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise ModelFactoryError(
            f"Model factory {spec!r} is not of the form MODULE:CALLABLE (e.g. mypkg.models:make_net or path/to/model.py:Net)."
        )
    module, name = match["module"], match["callable"]
    kwargs = dict(kwargs or {})
    if module.endswith(".py"):
        if run_folder is not None:
            file = inside(run_folder, module, run_folder / run_format.MANIFEST_NAME, "model factory file")
        else:
            file = Path(module).expanduser().resolve()
        call = FactoryCall(spec, str(file), name, kwargs, file=file)
    else:
        call = FactoryCall(spec, module, name, kwargs, builtin=_is_builtin(module, name))
    if not (call.builtin or trusted):
        where = f"{run_folder / run_format.MANIFEST_NAME} names" if run_folder is not None else "Opening needs"
        raise FactoryConsentRequired(
            call,
            f"{where} the model factory {printable(spec)}: building the model would {call.describe()}. Only factories "
            f"in {BUILTIN_FACTORY_MODULE} run without your consent.",
        )
    return call


def build_factory_model(call: FactoryCall) -> nn.Module:
    """The model ``call`` builds (a call :func:`factory_call` checked and the user consented to)."""
    return build_model(call.importable, call.kwargs)


def factory_digest(call: FactoryCall, progress: Progress = NULL_PROGRESS) -> str:
    """A digest of the factory's source: its module's file and the local modules it imports (cache keys)."""
    return source_digest(call.importable, progress)


def digest(path: Path, progress: Progress = NULL_PROGRESS) -> str:
    """SHA-256 of a file's contents (activation cache keys follow what the files hold); cancellable."""
    return file_digest(path, progress)


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
    if path.is_symlink():
        raise RunFormatError(f"{path} is a link; ibviewer reads only regular files of a run folder.")
    data = read_bounded(path, limit, RunFormatError, "description file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunFormatError(f"{path} is not UTF-8 text ({exc}); it may be damaged.") from exc


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
