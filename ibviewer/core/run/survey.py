"""What a path holds, before opening it: kind, epochs found, what is still needed.

:func:`survey` answers what an open dialog shows when a folder or file is picked (and what
``ibviewer info`` says before it loads anything): it only lists folders and reads small
description files (``run.json``, ``config.json``); it never loads weights, imports a factory
or probes a network, and it never raises for a bad input (that is a note).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ibviewer.core.run import files
from ibviewer.core.run.archive import ArchiveOpener
from ibviewer.core.run.checkpoints import CheckpointFileOpener, CheckpointFolderOpener
from ibviewer.core.run.detect import opener_for
from ibviewer.core.run.export import ExportOpener
from ibviewer.core.run.hf_trainer import (
    CONFIG_NAME,
    STATE_NAME,
    TrainerCheckpointOpener,
    TrainerOutputOpener,
    checkpoint_folders,
    is_checkpoint,
)
from ibviewer.core.run.lightning import CHECKPOINTS_DIR, HPARAMS_NAME, METRICS_NAME, LightningOpener, lightning_versions
from ibviewer.core.run.run_folder import RunFolderOpener
from ibviewer.core.run.transformers_model import ConfigFactory, transformers_installed
from ibviewer.errors import IBViewerError

__all__ = ["Survey", "survey"]


@dataclass(frozen=True)
class Survey:
    """What :func:`survey` found at a path.

    Attributes
    ----------
    path : Path
    kind : str
        What it is (``"transformers Trainer output"``, ``"Lightning run"``, ...), ``""`` when
        nothing ibviewer opens.
    found : str
        One line on what is there (``"3 checkpoints: checkpoint-4 ... checkpoint-12"``).
    n_epochs : int or None
        Epochs that will open (None when only opening can tell).
    needs_model, needs_dataset : bool
        Whether opening needs ``--model`` / ``--dataset``.
    model : str or None
        What builds the network without ``--model`` (a run's factory, a ``config.json`` class).
    dataset : str or None
        The dataset the input names itself (an ibviewer run), if any.
    notes : tuple of str
        Anything else to know (other versions, checkpoints still being written, why the
        config cannot build the model).
    choices : tuple of Path
        Alternatives to open instead, e.g. a Lightning root's versions (newest first; the
        first is what opening the path opens).
    followable : bool
        Whether the input is a folder that can grow while training (live runs).
    layers : tuple of str
        The layers it names without building the network (an ibviewer run's default layers);
        empty when only the built network can tell (they are listed once the run opens).
    """

    path: Path
    kind: str
    found: str
    n_epochs: int | None = None
    needs_model: bool = False
    needs_dataset: bool = False
    model: str | None = None
    dataset: str | None = None
    notes: tuple[str, ...] = ()
    choices: tuple[Path, ...] = ()
    followable: bool = False
    layers: tuple[str, ...] = ()

    @property
    def opens(self) -> bool:
        return bool(self.kind)

    def lines(self) -> list[str]:
        """The survey as short lines of text, for a dialog or a terminal."""
        if not self.opens:
            return [self.found, *self.notes]
        needed = [what for what, need in (("a model (--model)", self.needs_model), ("a dataset (--dataset)", self.needs_dataset)) if need]
        lines = [f"{self.kind}: {self.found}"]
        if self.model:
            lines.append(f"model: {self.model}")
        if self.dataset:
            lines.append(f"dataset: {self.dataset}")
        if self.layers:
            shown = ", ".join(self.layers[:6]) + (f" ... ({len(self.layers)} in all)" if len(self.layers) > 6 else "")
            lines.append(f"layers: {shown}")
        else:
            lines.append("layers: listed once the network is built (on opening)")
        lines.append(f"still needed: {' and '.join(needed)}" if needed else "ready to open")
        return lines + list(self.notes)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _span(paths: list[Path]) -> str:
    names = [p.name for p in paths]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} ... {names[-1]}"


def survey(path: str | os.PathLike[str]) -> Survey:
    """Describe what opening ``path`` would open, cheaply and without raising (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.exists():
        return Survey(path, "", f"{path} does not exist.")
    try:
        opener = opener_for(path)
    except IBViewerError as exc:
        return Survey(path, "", f"{path.name} cannot be read.", notes=(str(exc),))
    if opener is None:
        return Survey(
            path, "", f"{path.name} is not something ibviewer opens.",
            notes=("Open a run folder, a training output folder (transformers Trainer, Lightning), a checkpoint "
                   "folder or file, a .pt2 program or an activations archive.",),
        )  # fmt: skip
    needs = {"needs_model": opener.needs_model(path), "needs_dataset": opener.needs_dataset(path)}
    try:
        return _describe(path, opener, needs)
    except (IBViewerError, OSError) as exc:
        return Survey(path, "unreadable input", f"{path.name} could not be surveyed.", notes=(str(exc),), **needs)


def _describe(path: Path, opener: object, needs: dict[str, bool]) -> Survey:
    if isinstance(opener, RunFolderOpener):
        folder = path if path.is_dir() else path.parent
        manifest = files.read_manifest(folder)
        found = _plural(len(manifest.epochs), "saved epoch")
        return Survey(folder, "ibviewer run", found, len(manifest.epochs), model=manifest.factory,
                      dataset=manifest.dataset, followable=True, layers=tuple(manifest.layers or ()), **needs)  # fmt: skip
    if isinstance(opener, TrainerOutputOpener):
        folders = checkpoint_folders(path)
        complete = [f for f in folders if is_checkpoint(f) and (f / STATE_NAME).is_file()]
        notes = [f"{f.name} is still being written." for f in folders if f not in complete]
        model, note = _config_model(complete[0] if complete else None)
        found = f"{_plural(len(complete), 'checkpoint')}: {_span(complete)}"
        return Survey(path, "transformers Trainer output", found, len(complete), model=model,
                      notes=tuple(notes + note), followable=True, **needs)  # fmt: skip
    if isinstance(opener, TrainerCheckpointOpener):
        model, note = _config_model(path)
        return Survey(path, "transformers checkpoint", "one checkpoint (one epoch)", 1, model=model, notes=tuple(note), **needs)
    if isinstance(opener, LightningOpener):
        return _lightning(path, needs)
    if isinstance(opener, CheckpointFolderOpener):
        found = files.weight_files(path)
        if not found:
            return Survey(path, "", f"{path.name} holds no checkpoints, run.json or training output folders.",
                          notes=("Choose the folder your training run saved its checkpoints in.",))  # fmt: skip
        return Survey(path, "checkpoint folder", f"{_plural(len(found), 'checkpoint file')}: {_span(found)}",
                      len(found), followable=True, **needs)  # fmt: skip
    if isinstance(opener, ExportOpener):
        return Survey(path, "torch.export program", "one program (one epoch)", 1, **needs)
    if isinstance(opener, ArchiveOpener):
        return Survey(path, "activations archive", "precomputed activations", None, **needs)
    if isinstance(opener, CheckpointFileOpener):
        return Survey(path, "checkpoint file", "one checkpoint (one epoch)", 1, **needs)
    return Survey(path, type(opener).__name__, "an input", None, **needs)


def _config_model(folder: Path | None) -> tuple[str | None, list[str]]:
    """What builds a transformers checkpoint's model without --model, or why nothing does."""
    if folder is None or not (folder / CONFIG_NAME).is_file():
        return None, []
    try:
        factory = ConfigFactory.from_config(files.read_json(folder / CONFIG_NAME), folder / CONFIG_NAME)
    except IBViewerError as exc:
        return None, [str(exc)]
    if not transformers_installed():
        return None, [f"{CONFIG_NAME} names {factory.spec}; install transformers to build it, or pass --model."]
    return factory.spec, []


def _lightning(path: Path, needs: dict[str, bool]) -> Survey:
    versions = lightning_versions(path)
    run_dir = versions[0] if versions else path.parent  # a checkpoints/ folder opened directly
    ckpts = [p for p in files.regular_files(run_dir / CHECKPOINTS_DIR) if p.suffix == ".ckpt"]
    notes = []
    if len(versions) > 1:
        notes.append(f"{_plural(len(versions), 'run')} here; the newest, {versions[0].relative_to(path)}, opens. "
                     f"Others: {', '.join(str(v.relative_to(path)) for v in versions[1:])}.")  # fmt: skip
    if (run_dir / METRICS_NAME).is_file():
        notes.append(f"{METRICS_NAME} found: its metrics are shown per epoch.")
    if (run_dir / HPARAMS_NAME).is_file():
        notes.append(f"{HPARAMS_NAME} found: the hyper-parameters are shown with the run.")
    found = f"{_plural(len(ckpts), 'checkpoint')} in {run_dir.name}/{CHECKPOINTS_DIR}: {_span(ckpts)}"
    return Survey(path, "Lightning run", found, None, notes=tuple(notes), choices=tuple(versions),
                  followable=True, **needs)  # fmt: skip
