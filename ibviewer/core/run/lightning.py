"""PyTorch Lightning runs: a ``default_root_dir``, a ``version_N`` folder, or its ``checkpoints/``.

Lightning's ``ModelCheckpoint`` writes ``<root>/lightning_logs/version_N/checkpoints/
epoch=E-step=S.ckpt`` (``<root>/<name>/version_N/`` with a named logger, ``<root>/checkpoints/``
without a logger), and its ``CSVLogger`` writes ``metrics.csv`` and ``hparams.yaml`` beside
``checkpoints/``. Each ``.ckpt`` is one epoch (loaded without unpickling code; a
``last.ckpt`` beside numbered ones repeats one of them and is left out), its metrics are
the last values ``metrics.csv`` logged before it, and ``hparams.yaml`` is shown with the run.

A root holding several versions opens the newest (the one written last) with a warning
naming the others; :func:`lightning_versions` lists them for a choice, and opening a
version folder opens that one.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core.run import files
from ibviewer.core.run.checkpoints import CheckpointSource, ModelFactory, require_dataset
from ibviewer.core.run.source import EpochEntry
from ibviewer.core.run.training_logs import distinct_numbers, metrics_up_to, parse_flat_yaml, parse_metrics_csv
from ibviewer.errors import CheckpointLoadError, IBViewerError

if TYPE_CHECKING:
    from ibviewer.core.run.detect import OpenRequest

__all__ = ["LightningOpener", "LightningSource", "lightning_versions"]

CHECKPOINTS_DIR = "checkpoints"
METRICS_NAME = "metrics.csv"
HPARAMS_NAME = "hparams.yaml"
_VERSION_DIR = re.compile(r"version_(\d+)")
_NAMED = re.compile(r"(?:^|[-_])(epoch|step)=(\d+)")


def _ckpt_files(folder: Path) -> list[Path]:
    return [p for p in files.regular_files(folder) if p.suffix == ".ckpt"] if folder.is_dir() else []


def _is_version(folder: Path) -> bool:
    """A folder with a ``checkpoints/`` sub-folder holding ``.ckpt`` files (a version, or a root without logger)."""
    return bool(_ckpt_files(folder / CHECKPOINTS_DIR))


def lightning_versions(root: Path) -> list[Path]:
    """The Lightning run folders under ``root`` that hold checkpoints, newest first.

    Looks at ``root`` itself, ``root/version_N`` (``root`` is ``lightning_logs``) and
    ``root/<logger name>/version_N``. Newest: the one whose last checkpoint was written
    last (ties: the higher version number).
    """
    if not root.is_dir():
        return []
    candidates = [root] if _is_version(root) else []
    for sub in files.subfolders(root):
        if _VERSION_DIR.fullmatch(sub.name) and _is_version(sub):
            candidates.append(sub)
        elif not _VERSION_DIR.fullmatch(sub.name) and sub.name != CHECKPOINTS_DIR:
            candidates += [v for v in files.subfolders(sub) if _VERSION_DIR.fullmatch(v.name) and _is_version(v)]

    def newest(folder: Path) -> tuple[int, int]:
        stamps = [p.stat().st_mtime_ns for p in _ckpt_files(folder / CHECKPOINTS_DIR)]
        match = _VERSION_DIR.fullmatch(folder.name)
        return max(stamps, default=0), int(match.group(1)) if match else -1

    return sorted(candidates, key=newest, reverse=True)


@dataclass(frozen=True)
class _Ckpt:
    path: Path
    epoch: int | None
    step: int | None


def _named(path: Path) -> dict[str, int]:
    return {key: int(value) for key, value in _NAMED.findall(path.stem)}


def _read_ckpt(path: Path, trust_pickle: bool) -> _Ckpt:
    loaded = files.read_checkpoint(path, trust_pickle=trust_pickle)  # refuses pickled code unless trusted
    named = _named(path)
    epoch = loaded.epoch if loaded.epoch is not None else named.get("epoch")
    return _Ckpt(path, epoch, named.get("step"))


class LightningSource(CheckpointSource):
    """The checkpoints of one Lightning run folder, with its logged metrics and hyper-parameters.

    ``scan()`` lists the checkpoints now in ``checkpoint_dir``, reading only new ones (a live run).
    """

    def __init__(self, *, run_dir: Path, found: Sequence[_Ckpt], **description: Any) -> None:
        super().__init__(**description)
        self.run_dir = run_dir
        self.checkpoint_dir = run_dir / CHECKPOINTS_DIR
        self._found = {c.path: c for c in found}

    def scan(self) -> tuple[list[EpochEntry], list[Path]]:
        found, pending = _scan(self.checkpoint_dir, self._found, self.trust_pickle)
        self._found = {c.path: c for c in found}
        entries, self.epoch_unit = _entries(found, _metrics_rows(self.run_dir))
        return entries, pending


def _scan(folder: Path, known: Mapping[Path, _Ckpt], trust_pickle: bool) -> tuple[list[_Ckpt], list[Path]]:
    found, pending = [], []
    paths = _ckpt_files(folder)
    numbered = [p for p in paths if not p.name.startswith("last")]
    for path in numbered or paths:
        if path in known:
            found.append(known[path])
            continue
        try:
            found.append(_read_ckpt(path, trust_pickle))
        except CheckpointLoadError:
            pending.append(path)  # still being written (or damaged): tried again on the next scan
    return found, pending


def _metrics_rows(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / METRICS_NAME
    return parse_metrics_csv(files.read_text(path), path) if path.is_file() else []


def _entries(found: Sequence[_Ckpt], rows: Sequence[Mapping[str, float]]) -> tuple[list[EpochEntry], str]:
    """Entries numbered by epoch when the epochs are distinct, else by step; metrics logged before each."""
    epochs = distinct_numbers([c.epoch for c in found])
    steps = distinct_numbers([c.step for c in found])
    numbers, unit = (epochs, "epoch") if epochs is not None else (steps, "step") if steps is not None else (None, "index")
    if numbers is None:
        ordered = sorted(found, key=lambda c: c.path.name)
        return [EpochEntry(i, c.path, {}) for i, c in enumerate(ordered)], unit
    entries = []
    for number, ckpt in zip(numbers, found):
        # a checkpoint at global step S follows the rows logged at steps below S
        step = ckpt.step - 1 if ckpt.step is not None else None
        metrics = metrics_up_to(rows, step=step, epoch=ckpt.epoch) if rows else {}
        entries.append(EpochEntry(number, ckpt.path, metrics))
    return sorted(entries, key=lambda e: e.epoch), unit


def _hparams(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / HPARAMS_NAME
    return parse_flat_yaml(files.read_text(path)) or None if path.is_file() else None


class LightningOpener:
    """A Lightning ``default_root_dir``, ``lightning_logs``, ``version_N`` folder, or its ``checkpoints/``."""

    def claims(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        if path.name == CHECKPOINTS_DIR and _ckpt_files(path):
            return any((path.parent / name).is_file() for name in (METRICS_NAME, HPARAMS_NAME))
        return bool(lightning_versions(path))

    def needs_model(self, path: Path) -> bool:
        return True  # a LightningModule's checkpoint holds weights only

    def needs_dataset(self, path: Path) -> bool:
        return True

    def open(self, path: Path, request: OpenRequest) -> LightningSource:
        run_dir, name = self._run_dir(path)
        found, pending = _scan(run_dir / CHECKPOINTS_DIR, {}, request.trust_pickle)
        if not found:
            what = "is still being written" if pending else "could not be read"
            raise CheckpointLoadError(f"Every checkpoint in {run_dir / CHECKPOINTS_DIR} {what}; try again shortly.")
        if request.model is None:
            raise IBViewerError(
                f"{name} holds Lightning checkpoints (weights only); say which network they belong to with "
                "--model MODULE:CALLABLE (your LightningModule class, or a factory building its network)."
            )
        entries, unit = _entries(found, _metrics_rows(run_dir))
        source = LightningSource(
            kind="lightning", path=path, name=name, entries=entries, dataset=require_dataset(request.dataset, name),
            factory=ModelFactory(request.model, request.model_kwargs or {}, trusted=request.trust_model),
            trust_pickle=request.trust_pickle,
            run_dir=run_dir, found=found,
        )  # fmt: skip
        source.epoch_unit = unit
        source.hparams = _hparams(run_dir)
        return source

    @staticmethod
    def _run_dir(path: Path) -> tuple[Path, str]:
        """The run folder to open (the newest version of a root, with a warning naming the others) and its name."""
        if path.name == CHECKPOINTS_DIR and not _is_version(path):
            return path.parent, path.parent.name
        versions = lightning_versions(path)
        chosen = versions[0]
        if len(versions) > 1:
            others = ", ".join(str(v.relative_to(path)) for v in versions[1:])
            warnings.warn(
                f"{path.name} holds {len(versions)} Lightning runs; opened {chosen.relative_to(path)}, the newest. "
                f"To see another, open its folder: {others}.",
                stacklevel=5,
            )
        if chosen == path:
            return path, path.name
        return chosen, f"{path.name}/{chosen.relative_to(path)}"
