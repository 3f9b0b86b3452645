"""transformers ``Trainer`` output: ``output_dir/checkpoint-<step>/`` folders, or one of them.

Each ``checkpoint-<step>`` holds the model (``model.safetensors``, ``pytorch_model.bin`` or a
sharded index of either), ``config.json`` and ``trainer_state.json`` (epoch, global step,
``log_history``), beside ``optimizer.pt``, ``scheduler.pt``, ``rng_state.pth`` and
``training_args.bin``: those are pickles of the training state and are never read. A folder
is complete once ``trainer_state.json`` exists (the Trainer writes it last).

Epochs are the checkpoints' epochs when those are whole and distinct (``save_strategy=
"epoch"``), else their training steps (``epoch_unit == "step"``). The network is the user's
``--model`` or, without one, the ``transformers`` class ``config.json`` names
(:mod:`.transformers_model`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core.checkpoint import apply_state_dict
from ibviewer.core.run import files
from ibviewer.core.run.checkpoints import CheckpointSource, ModelFactory, require_dataset
from ibviewer.core.run.source import EpochEntry
from ibviewer.core.run.training_logs import distinct_numbers, metrics_up_to, parse_trainer_state
from ibviewer.core.run.transformers_model import ConfigFactory, load_transformers_weights, transformers_installed
from ibviewer.errors import CheckpointLoadError, IBViewerError, ModelFactoryError, RunFormatError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ibviewer.core.run.detect import OpenRequest

__all__ = ["TrainerOutputOpener", "TrainerCheckpointOpener", "TrainerSource", "checkpoint_folders", "weights_file"]

CONFIG_NAME = "config.json"
STATE_NAME = "trainer_state.json"
WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")


def weights_file(folder: Path) -> Path | None:
    """The model weights of a checkpoint folder (a single file, or the index of shards), or None."""
    for name in (*WEIGHT_NAMES, *INDEX_NAMES):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            return path
    return None


def is_checkpoint(folder: Path) -> bool:
    """Whether ``folder`` is a transformers checkpoint (or ``save_pretrained``) folder."""
    return (
        folder.is_dir()
        and weights_file(folder) is not None
        and ((folder / CONFIG_NAME).is_file() or (folder / STATE_NAME).is_file())
    )


def checkpoint_folders(folder: Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders directly inside ``folder``, by step (complete or not)."""
    found = [(int(m.group(1)), sub) for sub in files.subfolders(folder) if (m := _CHECKPOINT_DIR.fullmatch(sub.name))]
    return [sub for _, sub in sorted(found)]


@dataclass(frozen=True)
class _Checkpoint:
    """One complete checkpoint folder as read: its weights, epoch, step and metrics."""

    folder: Path
    weights: Path
    epoch: float | None
    step: int | None
    metrics: Mapping[str, float]


def _read_checkpoint_folder(folder: Path) -> _Checkpoint:
    weights = weights_file(folder)
    if weights is None:
        raise CheckpointLoadError(
            f"{folder} holds no model weights ({', '.join(WEIGHT_NAMES)}); optimizer, scheduler and RNG files are "
            "never read. Choose a checkpoint saved with the model."
        )
    state_path = folder / STATE_NAME
    if not state_path.is_file():
        match = _CHECKPOINT_DIR.fullmatch(folder.name)
        return _Checkpoint(folder, weights, None, int(match.group(1)) if match else None, {})
    state = parse_trainer_state(files.read_json(state_path), state_path)
    step = state.global_step
    return _Checkpoint(folder, weights, state.epoch, step, metrics_up_to(state.log_history, step=step))


def _number_checkpoints(found: Sequence[_Checkpoint]) -> tuple[list[int], str]:
    """Epoch numbers for the checkpoints, and what they count (``"epoch"`` or ``"step"``)."""
    epochs = distinct_numbers([c.epoch for c in found])
    if epochs is not None:
        return epochs, "epoch"
    steps = distinct_numbers([c.step for c in found])
    if steps is not None:
        return steps, "step"
    return list(range(len(found))), "index"


def read_weights(path: Path, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint's weights file, or of all the shards its index names.

    Raises
    ------
    CheckpointLoadError
        A damaged file, or an index naming shards outside its folder.
    """
    if path.name not in INDEX_NAMES:
        return files.read_checkpoint(path, trust_pickle).state_dict
    index = files.read_json(path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointLoadError(f"{path} has no \"weight_map\" of parameter -> shard file; it may be damaged.")
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        if Path(shard).name != shard:
            raise CheckpointLoadError(f"{path} names the shard {shard!r} outside its folder; shards must lie beside it.")
        state.update(files.read_checkpoint(path.parent / shard, trust_pickle).state_dict)
    return state


class TrainerSource(CheckpointSource):
    """Checkpoints of a transformers model: one per ``checkpoint-<step>`` folder (or one folder).

    ``scan()`` lists the complete checkpoints now in the folder, reading only new ones (a live
    run); :mod:`ibviewer.core.run.live` uses it.
    """

    def __init__(self, *, output_dir: Path | None, found: Sequence[_Checkpoint], **description: Any) -> None:
        super().__init__(**description)
        self.output_dir = output_dir
        self._found = {c.folder: c for c in found}

    def load_model(self, epoch: int) -> nn.Module:
        entry = self.entry(epoch)
        assert entry.source is not None
        state = read_weights(entry.source, self.trust_pickle)
        model = self.factory.build()
        if isinstance(self.factory, ConfigFactory):
            load_transformers_weights(model, state, entry.source)
            return model
        apply_state_dict(model, state, entry.source)
        return model.eval()

    def scan(self) -> tuple[list[EpochEntry], list[Path]]:
        """The complete checkpoints now in the output folder as entries, and the folders still being written."""
        if self.output_dir is None:
            return list(self.entries), []
        found, pending = _scan_output(self.output_dir, self._found)
        self._found = {c.folder: c for c in found}
        entries, unit = _entries(found)
        if unit != self.epoch_unit:
            self.epoch_unit = unit
        return entries, pending


def _scan_output(folder: Path, known: Mapping[Path, _Checkpoint]) -> tuple[list[_Checkpoint], list[Path]]:
    found, pending = [], []
    for sub in checkpoint_folders(folder):
        if sub in known:
            found.append(known[sub])
        elif (sub / STATE_NAME).is_file() and weights_file(sub) is not None:
            try:
                found.append(_read_checkpoint_folder(sub))
            except RunFormatError:
                pending.append(sub)  # trainer_state.json half-written: read it on the next scan
        else:
            pending.append(sub)
    return found, pending


def _entries(found: Sequence[_Checkpoint]) -> tuple[list[EpochEntry], str]:
    numbers, unit = _number_checkpoints(found)
    entries = sorted((EpochEntry(n, c.weights, dict(c.metrics)) for n, c in zip(numbers, found)), key=lambda e: e.epoch)
    return entries, unit


def _factory(folder: Path, request: OpenRequest) -> ModelFactory:
    if request.model is not None:
        return ModelFactory(request.model, request.model_kwargs or {}, trusted=request.trust_model)
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ModelFactoryError(
            f"{folder} has no {CONFIG_NAME}, so the model is unknown; pass --model MODULE:CALLABLE (a factory building it)."
        )
    factory = ConfigFactory.from_config(files.read_json(config_path), config_path)
    if not transformers_installed():
        factory.build()  # raises the one-line "install transformers or pass --model"
    return factory


def _needs_model(folder: Path | None) -> bool:
    if folder is None or not transformers_installed():
        return True
    try:
        ConfigFactory.from_config(files.read_json(folder / CONFIG_NAME), folder / CONFIG_NAME)
    except IBViewerError:
        return True
    return False


class TrainerOutputOpener:
    """A Trainer ``output_dir``: the folder holding ``checkpoint-<step>`` folders."""

    def claims(self, path: Path) -> bool:
        return path.is_dir() and any(weights_file(sub) is not None for sub in checkpoint_folders(path))

    def needs_model(self, path: Path) -> bool:
        complete = [sub for sub in checkpoint_folders(path) if is_checkpoint(sub)]
        return _needs_model(complete[0] if complete else None)

    def needs_dataset(self, path: Path) -> bool:
        return True

    def open(self, path: Path, request: OpenRequest) -> TrainerSource:
        found, pending = _scan_output(path, {})
        if not found:
            raise CheckpointLoadError(
                f"{path} holds checkpoint folders but none is complete yet (no {STATE_NAME} beside the weights); "
                "wait for the Trainer to finish saving one."
            )
        if pending:
            import warnings

            warnings.warn(
                f"{', '.join(p.name for p in pending)} in {path.name} {'is' if len(pending) == 1 else 'are'} still being "
                f"written (no {STATE_NAME} yet) and left out; reopen or follow the run to add {'it' if len(pending) == 1 else 'them'}.",
                stacklevel=4,
            )
        entries, unit = _entries(found)
        source = TrainerSource(
            kind="transformers", path=path, name=path.name, entries=entries,
            dataset=require_dataset(request.dataset, path.name), factory=_factory(found[0].folder, request),
            trust_pickle=request.trust_pickle, output_dir=path, found=found,
        )  # fmt: skip
        source.epoch_unit = unit
        return source


class TrainerCheckpointOpener:
    """One ``checkpoint-<step>`` folder (or any ``save_pretrained`` folder): a run with one epoch."""

    def claims(self, path: Path) -> bool:
        return is_checkpoint(path)

    def needs_model(self, path: Path) -> bool:
        return _needs_model(path)

    def needs_dataset(self, path: Path) -> bool:
        return True

    def open(self, path: Path, request: OpenRequest) -> TrainerSource:
        found = _read_checkpoint_folder(path)
        epochs = distinct_numbers([found.epoch])
        number, unit = (epochs[0], "epoch") if epochs else (found.step or 0, "step" if found.step is not None else "epoch")
        source = TrainerSource(
            kind="transformers", path=path, name=path.name, entries=[EpochEntry(number, found.weights, dict(found.metrics))],
            dataset=require_dataset(request.dataset, path.name), factory=_factory(path, request),
            trust_pickle=request.trust_pickle, output_dir=None, found=[found],
        )  # fmt: skip
        source.epoch_unit = unit
        return source
