"""Loading checkpoints safely and building models from `MODULE:CALLABLE` factories.

Nothing here unpickles arbitrary objects unless the user opted in with
``trust_pickle=True``: PyTorch files go through ``torch.load(weights_only=True)``
and ``.safetensors`` through safetensors.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import pickle
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.safe_read import (
    check_declared,
    check_regular,
    open_regular,
    safetensors_declared,
    sha256_file,
    zip_declared_bytes,
)
from ibviewer.errors import CheckpointLoadError, ModelFactoryError, ModelMismatchError, UnsafeCheckpointError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "LoadedCheckpoint",
    "load_checkpoint",
    "load_factory",
    "build_model",
    "apply_state_dict",
    "file_digest",
    "epoch_from_name",
]

logger = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
_METRIC_KEYS = re.compile(r"(loss|acc|accuracy|error|err)$", re.IGNORECASE)


@dataclass
class LoadedCheckpoint:
    """What one checkpoint file holds.

    ``state_dict`` maps parameter names to tensors; ``epoch`` is the file's own
    ``epoch`` entry if any; ``module`` is set only for a whole pickled module
    loaded with ``trust_pickle``; ``metrics`` keeps scalar entries such as ``loss``.
    """

    path: Path
    state_dict: dict[str, torch.Tensor]
    epoch: int | None = None
    module: nn.Module | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def file_digest(path: Path, progress: Progress = NULL_PROGRESS) -> str:
    """SHA-256 of a file's bytes (cache keys follow the checkpoint's contents); cancellable between blocks.

    Raises
    ------
    CheckpointLoadError
        Not a regular file (a FIFO or a device would never finish).
    """
    return sha256_file(Path(path), progress, CheckpointLoadError)


def epoch_from_name(path: Path) -> int | None:
    """The last number in a file name (``epoch_012.pt`` -> 12), or None."""
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def load_checkpoint(path: Path, trust_pickle: bool = False) -> LoadedCheckpoint:
    """Read one checkpoint (``.pt``/``.pth``/``.ckpt`` or ``.safetensors``) without running its code.

    Parameters
    ----------
    path : Path
        The file.
    trust_pickle : bool, default=False
        Allow full unpickling (needed for a pickled ``nn.Module``). Unpickling runs
        code from the file: only for files the user trusts. A warning is issued.

    Raises
    ------
    CheckpointLoadError
        Missing, damaged, truncated or foreign files.
    UnsafeCheckpointError
        The file only loads by unpickling arbitrary objects and ``trust_pickle`` is off.
    """
    path = Path(path)
    check_regular(path, CheckpointLoadError, "checkpoint")
    if path.suffix == ".safetensors":
        return LoadedCheckpoint(path=path, state_dict=_load_safetensors(path))
    _check_torch_file(path)
    obj = _torch_load(path, trust_pickle)
    return _interpret(path, obj)


def _check_torch_file(path: Path) -> None:
    """Refuse what torch.save cannot have written, and archives declaring more than the memory limit."""
    with open_regular(path, CheckpointLoadError, "checkpoint") as handle:
        head = handle.read(4)
        size = os.fstat(handle.fileno()).st_size
    if head[:1] == b"\x80":  # the legacy format: a pickle, bounded by the file's size
        check_declared(size, path, CheckpointLoadError)
        return
    if head != b"PK\x03\x04":
        raise CheckpointLoadError(
            f"{path.name} is not a PyTorch checkpoint: torch.save() writes a zip archive or a pickle, and this file "
            f"starts with {head!r}. Choose a .pt/.pth/.ckpt file written by torch.save()."
        )
    check_declared(zip_declared_bytes(path, CheckpointLoadError) or 0, path, CheckpointLoadError)


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    safetensors_declared(path, CheckpointLoadError)
    try:
        return dict(load_file(str(path)))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointLoadError(
            f"{path.name} is not a valid safetensors file ({exc}). It may be damaged, truncated or "
            "another kind of file renamed; re-save the weights with safetensors.torch.save_file()."
        ) from exc


def _torch_load(path: Path, trust_pickle: bool) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols are noise here
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc) and "weights_only" not in str(exc):
            raise _damaged(path, exc) from exc
        if not trust_pickle:
            raise UnsafeCheckpointError(
                str(path),
                f"{path.name} can only be loaded by unpickling arbitrary Python objects, which can run code "
                f"hidden in the file, so it was refused ({_unsafe_detail(exc)}).",
                "Save a state_dict instead (torch.save(model.state_dict(), ...)).",
            ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # the safe unpickler meets damaged files with IndexError, KeyError, struct.error, ...
        raise _damaged(path, exc) from exc
    warnings.warn(
        f"Loading {path.name} with full unpickling (--trust-pickle): code inside the file runs with your rights.",
        stacklevel=3,
    )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # anything from a foreign pickle: report it as a load failure
        raise CheckpointLoadError(f"Could not unpickle {path.name} ({_first_line(exc)}).") from exc


def _unsafe_detail(exc: BaseException) -> str:
    """The part of torch's long weights_only message that says which object was refused."""
    for line in str(exc).splitlines():
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.strip().rstrip(".")[:200]
    return "it holds Python objects other than tensors"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _damaged(path: Path, exc: BaseException) -> CheckpointLoadError:
    return CheckpointLoadError(
        f"Could not load {path.name} as a PyTorch checkpoint: it is truncated, damaged or not a file written "
        f"by torch.save() ({_first_line(exc)}). Re-save it, or choose another .pt/.pth/.ckpt file."
    )


def _is_tensor_mapping(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _interpret(path: Path, obj: Any) -> LoadedCheckpoint:
    from torch import nn

    if isinstance(obj, nn.Module):
        return LoadedCheckpoint(path=path, state_dict=dict(obj.state_dict()), module=obj)
    if not isinstance(obj, Mapping):
        raise CheckpointLoadError(
            f"{path.name} holds a {type(obj).__name__}, not a state_dict. Save model.state_dict() "
            "or a dict with it under 'state_dict', 'model_state_dict' or 'model'."
        )
    epoch = obj.get("epoch") if isinstance(obj.get("epoch"), int) else None
    metrics = {
        str(k): float(v)
        for k, v in obj.items()
        if isinstance(k, str) and _METRIC_KEYS.search(k) and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    for key in STATE_DICT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, nn.Module):
            return LoadedCheckpoint(path, dict(inner.state_dict()), epoch, inner, metrics)
        if _is_tensor_mapping(inner):
            return LoadedCheckpoint(path, dict(inner), epoch, None, metrics)
    if _is_tensor_mapping(obj):
        return LoadedCheckpoint(path, dict(obj), epoch, None, metrics)
    raise CheckpointLoadError(
        f"{path.name} is a dict with keys {sorted(map(str, obj))[:12]} but no state_dict. Expected a bare "
        f"state_dict or one under {', '.join(repr(k) for k in STATE_DICT_KEYS)}."
    )


_loaded_files: dict[Path, str] = {}


def load_factory(spec: str, base_dir: Path | None = None) -> Callable[..., Any]:
    """Resolve ``"module:callable"`` (module importable or a ``.py`` path) to the callable.

    Raises
    ------
    ModelFactoryError
        Malformed spec, import failure, missing or non-callable attribute.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ModelFactoryError(
            f"Model factory {spec!r} is not of the form MODULE:CALLABLE (e.g. mypkg.models:make_net "
            "or path/to/model.py:Net)."
        )
    module_part, _, attr = spec.rpartition(":")
    if not module_part or not attr:
        raise ModelFactoryError(f"Model factory {spec!r} is not of the form MODULE:CALLABLE.")
    if module_part.endswith(".py"):
        file = Path(module_part).expanduser()
        if not file.is_absolute() and base_dir is not None and not file.exists():
            file = Path(base_dir) / file
        module = _import_file(file, spec)
    else:
        try:
            module = importlib.import_module(module_part)
        except Exception as exc:  # any import-time error of user code is reported, not raised raw
            raise ModelFactoryError(
                f"Could not import module {module_part!r} for --model {spec} ({type(exc).__name__}: "
                f"{_first_line(exc)}). Check that it is installed or on PYTHONPATH, or give a path to a .py file."
            ) from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ModelFactoryError(
            f"Module {module_part!r} has no attribute {attr!r} (--model {spec}). It defines: {', '.join(names[:20])}."
        ) from None
    if not callable(factory):
        raise ModelFactoryError(f"{spec} is a {type(factory).__name__}, not a callable returning an nn.Module.")
    return factory


def _import_file(file: Path, spec: str) -> Any:
    if not file.exists():
        raise ModelFactoryError(f"Model file {file} for --model {spec} does not exist.")
    file = file.resolve()
    name = _loaded_files.get(file) or f"ibviewer_user_model_{hashlib.sha1(str(file).encode()).hexdigest()[:12]}"
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise ModelFactoryError(f"Could not import {file} as a Python module.")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ModelFactoryError(
            f"Importing {file.name} for --model {spec} failed ({type(exc).__name__}: {_first_line(exc)})."
        ) from exc
    _loaded_files[file] = name
    return module


def source_digest(spec: str, progress: Progress = NULL_PROGRESS) -> str:
    """SHA-256 over the source of a factory's module and of the modules it imports from its own folder.

    Activation caches key on it, so editing the model's code (its ``forward``, a helper
    module beside it) gives new activations instead of stale ones. The module must have
    been imported (the model was built); a module without source files digests its name.
    """
    import inspect

    module_part = spec.rpartition(":")[0]
    if module_part.endswith(".py"):
        module = sys.modules.get(_loaded_files.get(Path(module_part).expanduser().resolve(), ""))
    else:
        module = sys.modules.get(module_part)
    own = getattr(module, "__file__", None)
    if own is None:
        return hashlib.sha256(spec.encode()).hexdigest()
    folder = Path(own).resolve().parent
    sources = {Path(own).resolve()}
    for value in vars(module).values():
        imported = value if inspect.ismodule(value) else sys.modules.get(getattr(value, "__module__", None) or "")
        file = getattr(imported, "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder) and Path(file).suffix == ".py":
            sources.add(Path(file).resolve())
    digest = hashlib.sha256()
    for file in sorted(sources):
        digest.update(f"{file.relative_to(folder)}\0{sha256_file(file, progress, ModelFactoryError)}\0".encode())
    return digest.hexdigest()


def build_model(spec: str, kwargs: Mapping[str, Any] | None = None, base_dir: Path | None = None) -> nn.Module:
    """Call the factory named by ``spec`` with ``kwargs`` and check it returns an ``nn.Module``."""
    from torch import nn

    factory = load_factory(spec, base_dir)
    try:
        model = factory(**dict(kwargs or {}))
    except Exception as exc:
        raise ModelFactoryError(
            f"Calling the model factory {spec} failed ({type(exc).__name__}: {_first_line(exc)}). "
            "Check its arguments (--model-kwargs)."
        ) from exc
    if not isinstance(model, nn.Module):
        raise ModelFactoryError(
            f"The model factory {spec} returned a {type(model).__name__}, not a torch.nn.Module."
        )
    return model


def _strip_prefix(state_dict: Mapping[str, Any], expected: set[str]) -> dict[str, Any]:
    """Remove a wrapper prefix ("model.", "module.", "net.") when that makes the keys match."""
    keys = set(state_dict)
    if keys & expected:
        return dict(state_dict)
    for prefix in ("model.", "module.", "net.", "_orig_mod."):
        stripped = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if stripped and set(stripped) & expected:
            return stripped
    return dict(state_dict)


def apply_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: Path | str) -> None:
    """Load weights into ``model``, casting dtypes, or explain exactly what does not fit.

    Raises
    ------
    ModelMismatchError
        Lists missing and unexpected keys and shape mismatches.
    """
    own = model.state_dict()
    state_dict = _strip_prefix(state_dict, set(own))
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        name = Path(source).name if not isinstance(source, str) else source
        parts = []
        if missing:
            parts.append(f"missing keys: {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_listing(unexpected)}")
        if mismatched:
            parts.append(f"shape mismatches: {_listing(mismatched)}")
        raise ModelMismatchError(
            f"The weights in {name} do not fit the model ({'; '.join(parts)}). "
            "Check that --model builds the architecture the checkpoint was saved from."
        )
    cast = {k: v.to(dtype=own[k].dtype) if v.dtype != own[k].dtype else v for k, v in state_dict.items()}
    model.load_state_dict(cast, strict=True)


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
