"""Following a run that is still being written: re-scan it for new epochs and extract only those.

:class:`LiveRun` wraps an opened :class:`~ibviewer.core.run.Run` whose input can grow: an
ibviewer run folder (the Recorder adds entries to ``run.json``), a checkpoint folder that
gains files, a transformers ``Trainer`` output folder that gains ``checkpoint-<step>``
folders, a Lightning run folder that gains ``.ckpt`` files. :meth:`LiveRun.rescan` is
cheap (it lists folders and reads only files it has not seen) and says what changed;
:meth:`LiveRun.extend` runs the network for the new epochs only and returns the activation
set grown by them (cancellable through ``progress``).

How a front end follows a run, with no polling: watch :meth:`LiveRun.watched_paths` (the
GUI: a ``QFileSystemWatcher`` on those folders; files are replaced by renames, so watch the
folders, not the files), restart a single-shot timer of about a second on every change
(writes come in bursts), and when it fires run ``rescan`` then, if epochs were added,
``extend`` as background jobs. ``RunChanges.pending`` names files still being written:
re-arm the timer once more for them, since their folder may not change again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ibviewer.core import activations as act
from ibviewer.core.cache import DiskCache, hash_arrays
from ibviewer.core.checkpoint import epoch_from_name
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run import files
from ibviewer.core.run.run import Run
from ibviewer.core.run.source import EpochEntry
from ibviewer.core.run_format import MANIFEST_NAME, WEIGHTS_DIR
from ibviewer.core.types import ActivationSet
from ibviewer.errors import CheckpointLoadError, IBViewerError, RunFormatError

__all__ = ["LiveRun", "RunChanges"]


@dataclass(frozen=True)
class RunChanges:
    """What a re-scan found.

    Attributes
    ----------
    added : tuple of EpochEntry
        Complete epochs that are new, or whose file was rewritten; now part of the run.
    removed : tuple of int
        Epochs whose files are gone (a ``save_total_limit`` rotating checkpoints, a Recorder
        that went back to an earlier epoch); no longer part of the run.
    pending : tuple of Path
        Files or folders still being written: scan again shortly.
    """

    added: tuple[EpochEntry, ...] = ()
    removed: tuple[int, ...] = ()
    pending: tuple[Path, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the run's epochs changed (something to extract or drop)."""
        return bool(self.added or self.removed)


@runtime_checkable
class _Scannable(Protocol):
    def scan(self) -> tuple[list[EpochEntry], list[Path]]: ...


def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    # the inode too: a file replaced by a rename within one clock tick keeps its size and time
    return None if stat is None else (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class LiveRun:
    """An opened run followed as it grows (see the module docstring).

    Parameters
    ----------
    run : Run
        The opened run; ``rescan`` updates its epochs in place.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self._stamps = {entry.epoch: _stamp(entry.source) for entry in run.entries}

    @property
    def followable(self) -> bool:
        """Whether this kind of input can grow (folders can; single files and archives cannot)."""
        source = self.run.source
        return (isinstance(source, _Scannable) and getattr(source, "output_dir", True) is not None) or (
            source.kind in ("ibviewer", "checkpoints")
        )

    def watched_paths(self) -> tuple[Path, ...]:
        """The folders whose changes may mean new epochs (empty when the run cannot grow)."""
        if not self.followable:
            return ()
        source = self.run.source
        if source.kind == "ibviewer":
            return (source.path, source.path / WEIGHTS_DIR)
        folder = getattr(source, "checkpoint_dir", None) or getattr(source, "output_dir", None) or source.path
        return (Path(folder),)

    # ---- finding new epochs --------------------------------------------------------------------
    def rescan(self) -> RunChanges:
        """Look for new, rewritten and removed epochs; the run's entries become what is there now.

        Raises
        ------
        IBViewerError
            The run folder became unreadable (a damaged ``run.json``, ...).
        """
        if not self.followable:
            return RunChanges()
        entries, pending = self._scan()
        stamps = {entry.epoch: _stamp(entry.source) for entry in entries}
        old = {entry.epoch: entry for entry in self.run.entries}
        added = tuple(
            entry for entry in entries
            if entry.epoch not in old or old[entry.epoch].source != entry.source
            or stamps[entry.epoch] != self._stamps.get(entry.epoch)
        )  # fmt: skip
        removed = tuple(sorted(epoch for epoch in old if epoch not in stamps))
        self.run.source.entries = tuple(sorted(entries, key=lambda e: e.epoch))
        self._stamps = stamps
        return RunChanges(added, removed, tuple(pending))

    def _scan(self) -> tuple[list[EpochEntry], list[Path]]:
        source = self.run.source
        if isinstance(source, _Scannable):
            return source.scan()
        if source.kind == "ibviewer":
            return _scan_run_folder(source.path), []
        return _scan_checkpoint_folder(source.path, self.run.entries, bool(getattr(source, "trust_pickle", False)))

    # ---- extracting them -----------------------------------------------------------------------
    def extend(
        self,
        acts: ActivationSet,
        changes: RunChanges,
        *,
        progress: Progress = NULL_PROGRESS,
        cache_dir: str | None = None,
        use_cache: bool = True,
        drop_removed: bool = False,
    ) -> ActivationSet:
        """``acts`` grown by the epochs ``changes`` added (extracted with the same layers, samples and options).

        Parameters
        ----------
        acts : ActivationSet
            What was extracted from this run so far.
        changes : RunChanges
            From :meth:`rescan`.
        progress : Progress
            Reports per batch; cancellation is checked before every batch (``acts`` is untouched).
        cache_dir, use_cache
            The grown set is stored in the activation cache when it covers exactly the run's
            epochs, so reopening the run later loads it.
        drop_removed : bool, default=False
            Drop the epochs whose files are gone; by default what was extracted is kept.

        Raises
        ------
        ActivationError
            NaN values in a new epoch, or the grown set above the memory limit.
        """
        if not changes.changed:
            return acts
        options = _options(acts.options)
        layers = list(acts.layers)
        added = {entry.epoch for entry in changes.added}
        dropped = set(changes.removed) if drop_removed else set()
        kept = [epoch for epoch in acts.epochs if epoch not in added and epoch not in dropped]
        epochs = tuple(sorted({*kept, *added}))
        act.plan_memory(layers, len(epochs), acts.n_samples, options.memory_limit_gb)
        new_values = (
            self.run.source.extract(layers, acts.sample_idx, options, progress, entries=changes.added)  # type: ignore[call-arg]
            if changes.added else {layer.name: np.empty((0, acts.n_samples, layer.dim), np.float32) for layer in layers}
        )  # fmt: skip
        act.check_finite(new_values, [entry.epoch for entry in changes.added])
        new_index = {entry.epoch: i for i, entry in enumerate(changes.added)}
        values = {}
        for layer in layers:
            old, new = acts.values[layer.name], new_values[layer.name]
            rows = [new[new_index[e]] if e in new_index else old[acts.epoch_index(e)] for e in epochs]
            values[layer.name] = np.stack(rows) if rows else old[:0]
        key = hash_arrays([acts.labels, acts.sample_idx], {"grown": acts.key, "epochs": list(epochs)})
        if epochs == self.run.epochs and not self.run.source.holds_activations:
            key = self.run.cache_key(layers, acts.sample_idx, options)
            cache = DiskCache("activations", cache_dir, enabled=use_cache)
            cache.put(key, {f"layer_{i}": values[layer.name] for i, layer in enumerate(layers)}, {"run": str(self.run.path)})
        return ActivationSet(tuple(layers), epochs, values, acts.labels, acts.sample_idx, key, dict(acts.options),
                             test_indices=acts.test_indices)  # fmt: skip


def _options(recorded: dict[str, object]) -> act.ExtractOptions:
    """The extraction options an activation set recorded (``ActivationSet.options``)."""
    known = {f.name for f in fields(act.ExtractOptions)}
    kwargs = {key: value for key, value in recorded.items() if key in known}
    if kwargs.get("layers") is not None:
        kwargs["layers"] = tuple(kwargs["layers"])  # type: ignore[arg-type]
    return act.ExtractOptions(**kwargs)  # type: ignore[arg-type]


def _scan_run_folder(folder: Path) -> list[EpochEntry]:
    """The epochs ``run.json`` names now (the Recorder writes weights before naming them)."""
    where = folder / MANIFEST_NAME
    manifest = files.read_manifest(folder)
    return [EpochEntry(e.epoch, files.named_file(folder, e.weights, where), dict(e.metrics)) for e in manifest.epochs]


def _scan_checkpoint_folder(
    folder: Path, known: Sequence[EpochEntry], trust_pickle: bool
) -> tuple[list[EpochEntry], list[Path]]:
    """The checkpoint files now in ``folder``: known ones kept, new ones read for their epoch."""
    by_path = {entry.source: entry for entry in known}
    entries, pending = [], []
    for path in files.weight_files(folder):
        if path in by_path and _stamp(path) is not None:
            entries.append(by_path[path])
            continue
        try:
            loaded = files.read_checkpoint(path, trust_pickle=trust_pickle)
        except CheckpointLoadError:
            pending.append(path)  # still being written: read on the next scan
            continue
        epoch = loaded.epoch if loaded.epoch is not None else epoch_from_name(path)
        if epoch is None:
            raise RunFormatError(
                f"{path.name} appeared in {folder.name} with no epoch (no 'epoch' entry, no number in its name); "
                "reopen the folder to number its checkpoints by name order."
            )
        entries.append(EpochEntry(int(epoch), path, loaded.metrics))
    epochs = [entry.epoch for entry in entries]
    if len(set(epochs)) != len(epochs):
        raise IBViewerError(f"Two checkpoints in {folder.name} now claim the same epoch; reopen the folder.")
    return entries, pending
