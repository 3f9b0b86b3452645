"""Opening what researchers have: checkpoint folders, single checkpoints, ibviewer runs,
``torch.export`` programs and precomputed activation archives, all as one `Run`."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ibviewer.core import activations as act
from ibviewer.core.cache import DiskCache, hash_arrays, hash_json
from ibviewer.core.checkpoint import (
    CHECKPOINT_SUFFIXES,
    LoadedCheckpoint,
    apply_state_dict,
    build_model,
    epoch_from_name,
    file_digest,
    load_checkpoint,
)
from ibviewer.core.datasets import load_dataset
from ibviewer.core.device import resolve_device
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet, Dataset, LayerInfo
from ibviewer.errors import (
    ActivationError,
    CheckpointLoadError,
    DatasetError,
    IBViewerError,
    ModelMismatchError,
    RunFormatError,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Run", "EpochEntry", "open_run", "needs_model", "needs_dataset", "RUN_FORMAT_VERSION", "MANIFEST_NAME"]

logger = logging.getLogger(__name__)

RUN_FORMAT_VERSION = 1
MANIFEST_NAME = "run.json"
RunKind = Literal["checkpoints", "checkpoint", "ibviewer", "export", "activations"]


@dataclass(frozen=True)
class EpochEntry:
    """One saved epoch: its number, the file holding its weights, its training metrics."""

    epoch: int
    source: Path | None
    metrics: dict[str, float] = field(default_factory=dict)


class Run:
    """A trained network (or its activations) over saved epochs, with the dataset to run it on.

    Made by :func:`open_run`. ``layers`` are the default hidden representations;
    ``all_layers`` every capturable module call. ``activations()`` extracts (or
    loads from cache) the representations of every layer at every epoch.
    """

    def __init__(
        self,
        *,
        path: Path,
        kind: RunKind,
        name: str,
        entries: Sequence[EpochEntry],
        dataset: Dataset | None,
        model_spec: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        base_dir: Path | None = None,
        trust_pickle: bool = False,
        manifest_layers: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        test_indices: np.ndarray | None = None,
        program: Any = None,
        archive: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.kind: RunKind = kind
        self.name = name
        self.entries = tuple(entries)
        self.dataset = dataset
        self.model_spec = model_spec
        self.model_kwargs = dict(model_kwargs or {})
        self.base_dir = base_dir
        self.trust_pickle = trust_pickle
        self.extra = dict(extra or {})
        self.test_indices = test_indices
        self._program = program
        self._archive = archive
        self._first_module: nn.Module | None = None
        self.all_layers: tuple[LayerInfo, ...] = ()
        self.layers: tuple[LayerInfo, ...] = ()
        self._manifest_layers = tuple(manifest_layers) if manifest_layers else None

    # ---- description -------------------------------------------------------------------------
    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(entry.epoch for entry in self.entries)

    @property
    def metrics(self) -> dict[int, dict[str, float]]:
        return {entry.epoch: dict(entry.metrics) for entry in self.entries if entry.metrics}

    @property
    def n_parameters(self) -> int | None:
        if self._first_module is not None:
            return int(sum(p.numel() for p in self._first_module.parameters()))
        if self._program is not None:
            return int(sum(p.numel() for p in self._program.state_dict.values()))
        return None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (the ``ibviewer info --json`` object; keys are stable)."""
        default = {layer.name for layer in self.layers}
        return {
            "path": str(self.path),
            "name": self.name,
            "kind": self.kind,
            "model": self.model_spec,
            "model_kwargs": self.model_kwargs,
            "n_parameters": self.n_parameters,
            "epochs": list(self.epochs),
            "metrics": {str(k): v for k, v in self.metrics.items()},
            "layers": [dict(layer.to_dict(), default=layer.name in default) for layer in self.all_layers],
            "default_layers": [layer.name for layer in self.layers],
            "dataset": self.dataset.summary() if self.dataset is not None else None,
        }

    def layer_info(self, name: str) -> LayerInfo:
        for layer in self.all_layers:
            if layer.name == name:
                return layer
        raise IBViewerError(
            f"Run {self.name} has no layer {name!r}. Capturable layers: {', '.join(l.name for l in self.all_layers)}."
        )

    # ---- models ------------------------------------------------------------------------------
    def _entry(self, epoch: int) -> EpochEntry:
        for entry in self.entries:
            if entry.epoch == epoch:
                return entry
        raise IBViewerError(f"Run {self.name} has no epoch {epoch}; saved epochs: {list(self.epochs)}.")

    def load_model(self, epoch: int) -> nn.Module:
        """The network with the weights of ``epoch``, in eval mode on the CPU."""
        if self.kind == "activations":
            raise IBViewerError(f"{self.path.name} holds precomputed activations, not a model.")
        if self.kind == "export":
            raise IBViewerError("A torch.export program is run through its graph; it has no nn.Module to load.")
        entry = self._entry(epoch)
        assert entry.source is not None
        loaded = load_checkpoint(entry.source, trust_pickle=self.trust_pickle)
        return self._model_from(loaded)

    def _model_from(self, loaded: LoadedCheckpoint) -> nn.Module:
        if self.model_spec is None:
            if loaded.module is not None:
                return loaded.module.float().eval()
            raise IBViewerError(
                f"{loaded.path.name} holds weights only (a state_dict); say which architecture they belong to "
                "with --model MODULE:CALLABLE (a factory returning the nn.Module)."
            )
        model = build_model(self.model_spec, self.model_kwargs, self.base_dir)
        apply_state_dict(model, loaded.state_dict, loaded.path)
        return model.eval()

    # ---- layers ------------------------------------------------------------------------------
    def _discover_layers(self) -> None:
        """Probe the model with two samples: capturable layers, shapes, and dataset fit."""
        if self.kind == "activations":
            return  # set by the archive loader
        import torch

        if self.dataset is None:
            return
        options = act.ExtractOptions()
        sample = act.to_tensor(self.dataset.x[:2], torch.float32)
        if self.kind == "export":
            capture = act.ExportCapture(self._program)
        else:
            model = self._first_module if self._first_module is not None else self.load_model(self.epochs[0])
            self._first_module = model
            capture = act.ModuleCapture(model, self._manifest_layers or ())
        try:
            with torch.no_grad():
                records = act.probe_layers(capture, sample, options)
        except (RuntimeError, ValueError, IndexError, TypeError, AssertionError) as exc:
            raise ModelMismatchError(self._mismatch_message(exc, capture)) from exc
        finally:
            capture.close()
        self.all_layers = tuple(LayerInfo(r.name, r.module, r.shape, r.dim) for r in records)
        if self._manifest_layers:
            known = {layer.name: layer for layer in self.all_layers}
            unknown = [name for name in self._manifest_layers if name not in known]
            if unknown:
                raise RunFormatError(
                    f"{self.path.name} names layers {unknown} that the model does not have; "
                    f"capturable layers: {', '.join(known)}."
                )
            self.layers = tuple(known[name] for name in self._manifest_layers)
        else:
            chosen = {r.name for r in act.default_layers(records)}
            self.layers = tuple(layer for layer in self.all_layers if layer.name in chosen)

    def _mismatch_message(self, exc: BaseException, capture: Any) -> str:
        assert self.dataset is not None
        expected = ""
        if isinstance(capture, act.ExportCapture) and capture.input_shape is not None:
            expected = f" The program takes inputs of shape {capture.input_shape} per sample."
        if self._first_module is not None:
            for module in self._first_module.modules():
                for attr in ("in_features", "in_channels", "num_embeddings"):
                    if hasattr(module, attr):
                        expected = f" Its first layer is a {type(module).__name__} with {attr}={getattr(module, attr)}."
                        break
                if expected:
                    break
        return (
            f"The dataset {self.dataset.name} gives inputs of shape {tuple(self.dataset.x.shape[1:])} "
            f"({self.dataset.x.dtype}) per sample, which the model cannot take ({str(exc).splitlines()[0][:200]}).{expected} "
            "Choose the dataset the model was trained on, or the matching --model."
        )

    # ---- activations -------------------------------------------------------------------------
    def activations(
        self,
        options: act.ExtractOptions | None = None,
        progress: Progress = NULL_PROGRESS,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> ActivationSet:
        """Every chosen layer's representation at every saved epoch, for the same samples.

        Parameters
        ----------
        options : ExtractOptions, optional
            Layers, device, subsampling, pooling; defaults to the run's hidden layers on the CPU.
        progress : Progress
            Reports per batch; cancellation is checked before every batch.
        cache_dir : path, optional
            Cache folder (default: see :mod:`ibviewer.core.cache`).
        use_cache : bool, default=True
            Reuse and store results keyed by checkpoint contents, dataset and options.

        Returns
        -------
        ActivationSet
            ``values[layer]`` is (n_epochs, n_samples, dim) float32.

        Raises
        ------
        ActivationError
            Too much memory, NaN/inf values (naming layer and epoch), unknown layers.
        """
        options = options or act.ExtractOptions()
        if self.kind == "activations":
            return self._archive_activations(options)
        if self.dataset is None:
            raise DatasetError(f"Say which data to run {self.name} on with --dataset (digits, ib12, a .npz file, ...).")
        layers = [act.with_options(layer, options) for layer in self._resolve_layers(options.layers)]
        sample_idx = act.choose_samples(self.dataset.n_samples, options.max_samples, options.seed)
        act.plan_memory(layers, len(self.entries), len(sample_idx), options.memory_limit_gb)
        key = self._cache_key(layers, sample_idx, options)
        cache = DiskCache("activations", cache_dir, enabled=use_cache)
        hit = cache.get(key)
        labels = self.dataset.y[sample_idx]
        record = dict(options.to_dict(), layers=[layer.name for layer in layers])
        if hit is not None:
            arrays, _ = hit
            if all(f"layer_{i}" in arrays for i in range(len(layers))):
                logger.info("activations of %s loaded from cache %s", self.name, key[:12])
                progress.update(1.0, "activations loaded from cache")
                values = {layer.name: arrays[f"layer_{i}"] for i, layer in enumerate(layers)}
                return ActivationSet(tuple(layers), self.epochs, values, labels, sample_idx, key, record)
        values = self._extract(layers, sample_idx, options, progress)
        act.check_finite(values, self.epochs)
        cache.put(key, {f"layer_{i}": values[layer.name] for i, layer in enumerate(layers)}, {"run": str(self.path)})
        return ActivationSet(tuple(layers), self.epochs, values, labels, sample_idx, key, record)

    def _resolve_layers(self, names: Sequence[str] | None) -> list[LayerInfo]:
        if not names:
            if not self.layers:
                raise ActivationError(f"No capturable layers were found in {self.name}.")
            return list(self.layers)
        return [self.layer_info(name) for name in names]

    def _cache_key(self, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions) -> str:
        assert self.dataset is not None
        sources = [file_digest(e.source) if e.source is not None else "" for e in self.entries]
        if self.kind == "export":
            sources = [file_digest(self.path)]
        described = {
            "version": 1,
            "kind": self.kind,
            "model": self.model_spec,
            "kwargs": self.model_kwargs,
            "epochs": list(self.epochs),
            "sources": sources,
            "layers": [layer.to_dict() for layer in layers],
            "options": {k: v for k, v in options.to_dict().items() if k not in ("device", "batch_size", "layers")},
        }
        return hash_arrays([self.dataset.x, self.dataset.y, sample_idx], described)

    def _extract(
        self, layers: Sequence[LayerInfo], sample_idx: np.ndarray, options: act.ExtractOptions, progress: Progress
    ) -> dict[str, np.ndarray]:
        import torch

        assert self.dataset is not None
        device = resolve_device(options.device)
        n_epochs = len(self.entries)
        values = {layer.name: np.empty((n_epochs, len(sample_idx), layer.dim), np.float32) for layer in layers}
        x = self.dataset.x[sample_idx]
        for i, entry in enumerate(self.entries):
            progress.check_cancelled()
            sub = SubProgress(progress, i / n_epochs, (i + 1) / n_epochs)
            describe = f"extracting epoch {entry.epoch} ({i + 1}/{n_epochs}), "
            if self.kind == "export":
                capture: Any = act.ExportCapture(self._program)
                input_dtype = torch.float32
            else:
                model = self.load_model(entry.epoch).to(device)
                capture = act.ModuleCapture(model, [layer.name for layer in layers])
                input_dtype = next(model.parameters(), torch.empty(0)).dtype
            try:
                buffers = {name: array[i] for name, array in values.items()}
                act.fill_activations(capture, x, layers, buffers, options, input_dtype, sub, describe)
            finally:
                capture.close()
        return values

    def _archive_activations(self, options: act.ExtractOptions) -> ActivationSet:
        assert self._archive is not None and self.dataset is not None
        layers = self._resolve_layers(options.layers)
        sample_idx = act.choose_samples(self.dataset.n_samples, options.max_samples, options.seed)
        values = {layer.name: self._archive[layer.name][:, sample_idx] for layer in layers}
        act.check_finite(values, self.epochs)
        key = hash_arrays([*values.values(), self.dataset.y[sample_idx]], {"archive": True})
        record = dict(options.to_dict(), layers=[layer.name for layer in layers], source="archive")
        return ActivationSet(tuple(layers), self.epochs, values, self.dataset.y[sample_idx], sample_idx, key, record)


# ---- opening ---------------------------------------------------------------------------------


def open_run(
    path: str | os.PathLike[str],
    model: str | None = None,
    dataset: str | Dataset | None = None,
    *,
    trust_pickle: bool = False,
    model_kwargs: Mapping[str, Any] | None = None,
) -> Run:
    """Open a run: a checkpoint folder or file, an ibviewer run, a ``.pt2`` program or an activations archive.

    Parameters
    ----------
    path : path
        What to open (see ``docs/run-format.md``).
    model : str, optional
        ``"module:callable"`` factory for plain checkpoints (module importable or a ``.py`` path).
    dataset : str or Dataset, optional
        Dataset spec (``digits``, ``ib12``, ``.npz``, MNIST idx); ibviewer runs name their own.
    trust_pickle : bool, default=False
        Allow full unpickling of checkpoints (runs code from the file; prints a warning).
    model_kwargs : mapping, optional
        Keyword arguments for the model factory.

    Returns
    -------
    Run
        Epochs ordered, layers discovered, dataset checked against the model.

    Raises
    ------
    IBViewerError
        Any problem, with a message that names the file and what to do.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise IBViewerError(f"{path} does not exist. Give a run folder, a checkpoint, a .pt2 program or an activations archive.")
    data = _dataset(dataset, None) if dataset is not None else None
    if path.is_dir():
        if (path / MANIFEST_NAME).exists():
            run = _open_ibviewer_run(path, model, data, trust_pickle, model_kwargs)
        else:
            run = _open_checkpoint_folder(path, model, data, trust_pickle, model_kwargs)
    elif path.name == MANIFEST_NAME:
        run = _open_ibviewer_run(path.parent, model, data, trust_pickle, model_kwargs)
    elif path.suffix == ".pt2":
        run = _open_export(path, data)
    elif path.suffix == ".npz" or (path.suffix == ".safetensors" and _is_activation_archive(path)):
        run = _open_archive(path)
    elif path.suffix in (*CHECKPOINT_SUFFIXES, ".safetensors"):
        run = _open_single_checkpoint(path, model, data, trust_pickle, model_kwargs)
    else:
        raise IBViewerError(
            f"{path.name} is not a file ibviewer opens. Open a run folder, a .pt/.pth/.ckpt/.safetensors "
            "checkpoint, a .pt2 torch.export program or a .npz/.safetensors activations archive."
        )
    run._discover_layers()
    return run


def _holds_weights(path: Path) -> bool:
    """Whether ``path`` is a file or folder of plain weights (not a run, program or activation archive)."""
    if path.is_dir():
        return not (path / MANIFEST_NAME).exists() and any(
            p.is_file() and p.suffix in (*CHECKPOINT_SUFFIXES, ".safetensors") for p in path.iterdir()
        )
    if path.suffix == ".safetensors":
        try:
            return not _is_activation_archive(path)
        except CheckpointLoadError:
            return False  # unreadable: open_run reports it
    return path.suffix in CHECKPOINT_SUFFIXES


def needs_model(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`open_run` needs ``model=`` for ``path`` (plain checkpoints hold weights only)."""
    return _holds_weights(Path(path).expanduser())


def needs_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`open_run` needs ``dataset=`` for ``path`` (checkpoints and ``.pt2`` programs)."""
    path = Path(path).expanduser()
    return path.suffix == ".pt2" or _holds_weights(path)


def _dataset(spec: str | Dataset | None, base_dir: Path | None) -> Dataset | None:
    if spec is None or isinstance(spec, Dataset):
        return spec
    return load_dataset(spec, base_dir)


def _require_dataset(data: Dataset | None, what: str) -> Dataset:
    if data is None:
        raise DatasetError(f"Say which data to run {what} on with --dataset (digits, ib12, a .npz file, MNIST idx).")
    return data


def _open_checkpoint_folder(path, model, data, trust_pickle, model_kwargs) -> Run:  # noqa: ANN001
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (*CHECKPOINT_SUFFIXES, ".safetensors"))
    if not files:
        raise CheckpointLoadError(
            f"{path} holds no checkpoints (*.pt, *.pth, *.ckpt, *.safetensors) and no {MANIFEST_NAME}. "
            "Choose the folder your training run saved its checkpoints in."
        )
    loaded = []
    for file in files:
        ckpt = load_checkpoint(file, trust_pickle=trust_pickle)
        loaded.append((file, ckpt.epoch, ckpt.metrics))
    entries = _order_epochs(path, loaded)
    run = Run(
        path=path, kind="checkpoints", name=path.name, entries=entries, dataset=_require_dataset(data, path.name),
        model_spec=model, model_kwargs=model_kwargs, trust_pickle=trust_pickle,
    )
    return run


def _order_epochs(path: Path, loaded: list[tuple[Path, int | None, dict[str, float]]]) -> list[EpochEntry]:
    epochs = [epoch if epoch is not None else epoch_from_name(file) for file, epoch, _ in loaded]
    if any(e is None for e in epochs) or len(set(epochs)) != len(epochs):
        warnings.warn(
            f"Could not tell the epochs of the checkpoints in {path.name} (no 'epoch' entry and no number in "
            "every file name, or repeated numbers): using sorted file-name order as epochs 0, 1, 2, ...",
            stacklevel=3,
        )
        return [EpochEntry(i, file, metrics) for i, (file, _, metrics) in enumerate(loaded)]
    order = sorted(range(len(loaded)), key=lambda i: epochs[i])
    return [EpochEntry(int(epochs[i]), loaded[i][0], loaded[i][2]) for i in order]


def _open_single_checkpoint(path, model, data, trust_pickle, model_kwargs) -> Run:  # noqa: ANN001
    ckpt = load_checkpoint(path, trust_pickle=trust_pickle)
    epoch = ckpt.epoch if ckpt.epoch is not None else (epoch_from_name(path) or 0)
    run = Run(
        path=path, kind="checkpoint", name=path.name, entries=[EpochEntry(epoch, path, ckpt.metrics)],
        dataset=_require_dataset(data, path.name), model_spec=model, model_kwargs=model_kwargs,
        trust_pickle=trust_pickle,
    )
    if model is None and ckpt.module is not None:
        run._first_module = ckpt.module.float().eval()
    elif model is None:
        raise IBViewerError(
            f"{path.name} holds weights only (a state_dict); say which architecture they belong to with "
            "--model MODULE:CALLABLE (a factory returning the nn.Module)."
        )
    return run


def _open_ibviewer_run(path: Path, model, data, trust_pickle, model_kwargs) -> Run:  # noqa: ANN001
    manifest_path = path / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFormatError(f"Could not read {manifest_path} ({exc}). It should be the JSON manifest of an ibviewer run.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != "ibviewer-run":
        raise RunFormatError(f"{manifest_path} is not an ibviewer run manifest (no \"format\": \"ibviewer-run\").")
    version = manifest.get("version")
    if not isinstance(version, int) or version > RUN_FORMAT_VERSION:
        raise RunFormatError(
            f"{manifest_path} is run format version {version}; this ibviewer reads version {RUN_FORMAT_VERSION}. "
            "Upgrade ibviewer."
        )
    model_info = manifest.get("model") or {}
    factory = model or model_info.get("factory")
    if not factory:
        raise RunFormatError(f"{manifest_path} names no model factory (\"model\": {{\"factory\": ...}}).")
    kwargs = model_kwargs if model_kwargs is not None else model_info.get("kwargs", {})
    if data is None:
        if "dataset" not in manifest:
            raise RunFormatError(f"{manifest_path} names no dataset; pass --dataset.")
        data = _dataset(str(manifest["dataset"]), path)
    raw_epochs = manifest.get("epochs")
    if not isinstance(raw_epochs, list) or not raw_epochs:
        raise RunFormatError(f"{manifest_path} lists no epochs: the run has no saved weights yet.")
    entries = []
    for item in raw_epochs:
        try:
            weights = path / item["weights"]
            entries.append(EpochEntry(int(item["epoch"]), weights, {k: float(v) for k, v in (item.get("metrics") or {}).items()}))
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFormatError(f"{manifest_path}: epoch entry {item!r} is malformed ({exc}).") from exc
        if not weights.exists():
            raise RunFormatError(f"{manifest_path} names {item['weights']}, which does not exist. The run folder is incomplete.")
    entries.sort(key=lambda e: e.epoch)
    test_indices = None
    split = manifest.get("split") or {}
    if isinstance(split, dict) and split.get("test_indices"):
        try:
            with np.load(path / split["test_indices"], allow_pickle=False) as archive:
                test_indices = archive["test_indices"].astype(np.int64)
        except (OSError, KeyError, ValueError) as exc:
            raise RunFormatError(f"Could not read the test split {split['test_indices']} of {path.name} ({exc}).") from exc
    return Run(
        path=path, kind="ibviewer", name=str(manifest.get("name") or path.name), entries=entries, dataset=data,
        model_spec=factory, model_kwargs=kwargs, base_dir=path, trust_pickle=trust_pickle,
        manifest_layers=manifest.get("layers"), extra=manifest.get("extra"), test_indices=test_indices,
    )


def _open_export(path: Path, data: Dataset | None) -> Run:
    import torch

    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # torch.export.load raises many kinds on foreign files
        raise CheckpointLoadError(
            f"Could not load {path.name} as a torch.export program ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Write it with torch.export.save()."
        ) from exc
    epoch = epoch_from_name(path) or 0
    return Run(path=path, kind="export", name=path.name, entries=[EpochEntry(epoch, path)],
               dataset=_require_dataset(data, path.name), program=program)


def _is_activation_archive(path: Path) -> bool:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return any(key.startswith("act/") for key in handle.keys())
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointLoadError(
            f"{path.name} is not a valid safetensors file ({exc}). It may be damaged or another kind of file renamed."
        ) from exc


def _open_archive(path: Path) -> Run:
    arrays, order = _read_archive(path)
    if "labels" not in arrays:
        raise ActivationError(f"{path.name} has no 'labels' array. An activations archive needs labels (N,) and act/<layer> arrays.")
    labels = np.asarray(arrays["labels"])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ActivationError(f"{path.name}: 'labels' must be a 1-D integer array, got {labels.dtype} {labels.shape}.")
    n = labels.shape[0]
    per_layer: dict[str, dict[str | None, np.ndarray]] = {}
    for key in order:
        if not key.startswith("act/"):
            continue
        parts = key.split("/")
        layer, epoch = (parts[1], None) if len(parts) == 2 else ("/".join(parts[1:-1]), parts[-1])
        per_layer.setdefault(layer, {})[epoch] = np.asarray(arrays[key])
    if not per_layer:
        raise ActivationError(f"{path.name} holds no act/<layer> arrays. See docs/run-format.md for the key names.")
    if "layer_order" in arrays:
        wanted = [str(s) for s in arrays["layer_order"]]
        unknown = [name for name in wanted if name not in per_layer]
        if unknown:
            raise ActivationError(f"{path.name}: layer_order names {unknown}, which have no act/ arrays.")
        per_layer = {name: per_layer[name] for name in wanted}
    epoch_keys = {tuple(sorted(v, key=str)) for v in per_layer.values()}
    if len(epoch_keys) != 1:
        raise ActivationError(f"{path.name}: every layer must have the same epochs (act/<layer>/<epoch>).")
    keys = list(next(iter(per_layer.values())))
    if keys == [None]:
        epochs = [int(arrays["epochs"][0])] if "epochs" in arrays else [0]
        ordered_keys: list[str | None] = [None]
    else:
        try:
            numeric = sorted((int(k), k) for k in keys)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ActivationError(f"{path.name}: epoch parts of act/<layer>/<epoch> must be integers ({exc}).") from exc
        epochs = [e for e, _ in numeric]
        ordered_keys = [k for _, k in numeric]
    values: dict[str, np.ndarray] = {}
    layers = []
    for name, by_epoch in per_layer.items():
        stack = []
        for epoch, k in zip(epochs, ordered_keys):
            block = by_epoch[k]
            if block.shape[0] != n:
                raise ActivationError(f"{path.name}: layer {name!r} at epoch {epoch} has {block.shape[0]} rows for {n} labels.")
            stack.append(block.reshape(n, -1).astype(np.float32))
        values[name] = np.stack(stack)
        shape = tuple(int(s) for s in next(iter(by_epoch.values())).shape[1:])
        layers.append(LayerInfo(name, "archive", shape, int(values[name].shape[2])))
    act.check_finite(values, epochs)
    label_names = tuple(str(s) for s in arrays["label_names"]) if "label_names" in arrays else None
    words = tuple(str(s) for s in arrays["words"]) if "words" in arrays else None
    images = np.asarray(arrays["images"], np.float32) if "images" in arrays else None
    data = Dataset(
        name=path.name, spec=str(path), kind="images" if images is not None else "features",
        x=np.zeros((n, 0), np.float32), y=labels.astype(np.int64), label_names=label_names, images=images, words=words,
    )
    run = Run(path=path, kind="activations", name=path.name, entries=[EpochEntry(e, None) for e in epochs],
              dataset=data, archive=values)
    run.all_layers = tuple(layers)
    run.layers = tuple(layers)
    return run


def _read_archive(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}, list(archive.files)
        except (OSError, ValueError, EOFError) as exc:
            raise ActivationError(f"Could not read {path.name} as a .npz archive ({exc}).") from exc
    from safetensors.numpy import load_file

    arrays = load_file(str(path))
    return dict(arrays), sorted(arrays)
