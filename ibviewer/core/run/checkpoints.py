"""Checkpoints with a model factory: a folder of checkpoint files, or one checkpoint file.

:class:`CheckpointSource` is also what other inputs of weights files become (an
ibviewer run folder, see ``run_folder.py``): epochs mapped to files, a
``module:callable`` factory building the network the weights are loaded into.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core import activations as act
from ibviewer.core.checkpoint import LoadedCheckpoint, apply_state_dict, epoch_from_name
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run import files
from ibviewer.core.run.source import Capture, EpochEntry, ModelSource
from ibviewer.core.run_format import MANIFEST_NAME
from ibviewer.errors import CheckpointLoadError, DatasetError, IBViewerError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ibviewer.core.run.detect import OpenRequest
    from ibviewer.core.types import Dataset

__all__ = ["ModelFactory", "CheckpointSource", "CheckpointFolderOpener", "CheckpointFileOpener", "require_dataset"]

_WEIGHTS_ONLY = (
    "{name} holds weights only (a state_dict); say which architecture they belong to with "
    "--model MODULE:CALLABLE (a factory returning the nn.Module)."
)


@dataclass(frozen=True)
class ModelFactory:
    """A ``module:callable`` that builds the network (None: the checkpoint holds a whole module).

    ``base_dir``: the spec comes from that run folder's manifest, so a ``.py`` module must
    lie inside it. ``trusted``: the user consented to running this factory; without it only
    ``ibviewer.models`` factories build (see :func:`.files.factory_call`).

    Raises
    ------
    FactoryConsentRequired
        On construction, when the factory needs consent that was not given.
    """

    spec: str | None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None
    trusted: bool = False

    def __post_init__(self) -> None:
        self.call  # noqa: B018 -- check the spec, its place and the consent before anything is read

    @property
    def call(self) -> files.FactoryCall | None:
        """What building imports and calls (checked: built in, or consented to)."""
        if self.spec is None:
            return None
        return files.factory_call(self.spec, self.kwargs, self.base_dir, trusted=self.trusted)

    def build(self) -> nn.Module:
        call = self.call
        assert call is not None
        return files.build_factory_model(call)

    def source_digest(self, progress: Progress = NULL_PROGRESS) -> str:
        """A digest of the factory's source code (``""`` without a factory); the model must have been built."""
        call = self.call
        return files.factory_digest(call, progress) if call is not None else ""


class CheckpointSource(ModelSource):
    """Epochs stored as weights files, loaded into the network the factory builds.

    Parameters
    ----------
    factory : ModelFactory
        Builds the network; ``spec=None`` when the files hold pickled modules.
    trust_pickle : bool
        Allow full unpickling of the files (the user's explicit consent).
    first_module : nn.Module, optional
        The first epoch's network when opening already built it.
    **description
        ``kind``, ``path``, ``name``, ``entries``, ``dataset``, ... as for :class:`RunSource`.
    """

    def __init__(
        self, *, factory: ModelFactory, trust_pickle: bool = False, first_module: nn.Module | None = None,
        **description: Any,
    ) -> None:  # fmt: skip
        super().__init__(**description)
        self.factory = factory
        self.trust_pickle = trust_pickle
        self._first_module = first_module

    @property
    def model_spec(self) -> str | None:
        return self.factory.spec

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return dict(self.factory.kwargs)

    @property
    def n_parameters(self) -> int | None:
        if self._first_module is None:
            return None
        return int(sum(p.numel() for p in self._first_module.parameters()))

    def content_digests(self, progress: Progress = NULL_PROGRESS) -> list[str]:
        """The weights files' digests and the factory's source (editing the model's code changes the key)."""
        digests = super().content_digests(progress)
        self.first_module()  # the factory's module is imported once the model was built
        return [*digests, self.factory.source_digest(progress)]

    def load_model(self, epoch: int) -> nn.Module:
        entry = self.entry(epoch)
        assert entry.source is not None
        return self._model_from(files.read_checkpoint(entry.source, trust_pickle=self.trust_pickle))

    def _model_from(self, loaded: LoadedCheckpoint) -> nn.Module:
        if self.factory.spec is None:
            if loaded.module is not None:
                return loaded.module.float().eval()
            raise IBViewerError(_WEIGHTS_ONLY.format(name=loaded.path.name))
        model = self.factory.build()
        apply_state_dict(model, loaded.state_dict, loaded.path)
        return model.eval()

    def first_module(self) -> nn.Module:
        """The first epoch's network, kept for layer discovery, parameter counts and messages."""
        if self._first_module is None:
            self._first_module = self.load_model(self.epochs[0])
        return self._first_module

    def open_capture(self, epoch: int, layer_names: Sequence[str], device: torch.device) -> tuple[Capture, torch.dtype]:
        import torch

        model = self.load_model(epoch).to(device)
        return act.ModuleCapture(model, layer_names), next(model.parameters(), torch.empty(0)).dtype

    def probe_capture(self) -> Capture:
        return act.ModuleCapture(self.first_module())  # every module: all layers are listed

    def mismatch_hint(self, capture: Capture) -> str:
        for module in self.first_module().modules():
            for attr in ("in_features", "in_channels", "num_embeddings"):
                if hasattr(module, attr):
                    return f" Its first layer is a {type(module).__name__} with {attr}={getattr(module, attr)}."
        return ""


def require_dataset(data: Dataset | None, what: str) -> Dataset:
    """``data``, or a DatasetError asking for one (inputs that hold only weights name no data)."""
    if data is None:
        raise DatasetError(f"Say which data to run {what} on with --dataset (digits, ib12, a .npz file, MNIST idx).")
    return data


class CheckpointFolderOpener:
    """A folder of ``*.pt``/``*.pth``/``*.ckpt``/``*.safetensors`` files, one per epoch."""

    def claims(self, path: Path) -> bool:
        return path.is_dir()

    def needs_model(self, path: Path) -> bool:
        return bool(files.weight_files(path))

    def needs_dataset(self, path: Path) -> bool:
        return self.needs_model(path)

    def open(self, path: Path, request: OpenRequest) -> CheckpointSource:
        found = files.weight_files(path)
        if not found:
            raise CheckpointLoadError(
                f"{path} holds no checkpoints (*.pt, *.pth, *.ckpt, *.safetensors) and no {MANIFEST_NAME}. "
                "Choose the folder your training run saved its checkpoints in."
            )
        factory = ModelFactory(request.model, request.model_kwargs or {}, trusted=request.trust_model)
        loaded = []
        for i, file in enumerate(found):
            request.progress.check_cancelled()
            request.progress.update(i / len(found), f"reading {file.name}")
            ckpt = files.read_checkpoint(file, trust_pickle=request.trust_pickle)
            loaded.append((file, ckpt.epoch, ckpt.metrics))
        return CheckpointSource(
            kind="checkpoints", path=path, name=path.name, entries=_order_epochs(path, loaded),
            dataset=require_dataset(request.dataset, path.name), factory=factory, trust_pickle=request.trust_pickle,
        )  # fmt: skip


def _order_epochs(path: Path, loaded: list[tuple[Path, int | None, dict[str, float]]]) -> list[EpochEntry]:
    epochs = [epoch if epoch is not None else epoch_from_name(file) for file, epoch, _ in loaded]
    if any(e is None for e in epochs) or len(set(epochs)) != len(epochs):
        warnings.warn(
            f"Could not tell the epochs of the checkpoints in {path.name} (no 'epoch' entry and no number in "
            "every file name, or repeated numbers): using sorted file-name order as epochs 0, 1, 2, ...",
            stacklevel=4,
        )
        return [EpochEntry(i, file, metrics) for i, (file, _, metrics) in enumerate(loaded)]
    order = sorted(range(len(loaded)), key=lambda i: epochs[i])
    return [EpochEntry(int(epochs[i]), loaded[i][0], loaded[i][2]) for i in order]  # type: ignore[arg-type]


class CheckpointFileOpener:
    """One checkpoint file: a run with one epoch."""

    def claims(self, path: Path) -> bool:
        return not path.is_dir() and path.suffix in files.WEIGHT_SUFFIXES

    def needs_model(self, path: Path) -> bool:
        return True

    def needs_dataset(self, path: Path) -> bool:
        return True

    def open(self, path: Path, request: OpenRequest) -> CheckpointSource:
        factory = ModelFactory(request.model, request.model_kwargs or {}, trusted=request.trust_model)
        ckpt = files.read_checkpoint(path, trust_pickle=request.trust_pickle)
        dataset = require_dataset(request.dataset, path.name)
        if request.model is None and ckpt.module is None:
            raise IBViewerError(_WEIGHTS_ONLY.format(name=path.name))
        epoch = ckpt.epoch if ckpt.epoch is not None else (epoch_from_name(path) or 0)
        return CheckpointSource(
            kind="checkpoint", path=path, name=path.name, entries=[EpochEntry(epoch, path, ckpt.metrics)],
            dataset=dataset, factory=factory, trust_pickle=request.trust_pickle,
            first_module=ckpt.module.float().eval() if request.model is None and ckpt.module is not None else None,
        )  # fmt: skip
