"""Record a run from your own PyTorch training loop, in ibviewer's run format.

The :class:`Recorder` writes ``weights/epoch_XXXXXX.safetensors`` for each saved
epoch and rewrites ``run.json`` after each snapshot (see ``docs/run-format.md``).
Both go through a temporary file and a rename, so a crash at any moment leaves
the earlier snapshots and a manifest that names only complete files; reopening
the folder with the same model factory and dataset carries on from there.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ibviewer.core.cache import atomic_write_bytes, atomic_write_text, save_npz_atomic
from ibviewer.core.run_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    SPLIT_KEY,
    SPLIT_NAME,
    WEIGHTS_DIR,
    Manifest,
    ManifestEpoch,
    read_manifest,
    read_split,
    weights_name,
)
from ibviewer.errors import IBViewerError, ModelMismatchError, RunFormatError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Recorder", "log_spaced_epochs", "MANIFEST_NAME", "SPLIT_NAME", "FORMAT_NAME", "FORMAT_VERSION"]

logger = logging.getLogger(__name__)

Schedule = Literal["every", "log"] | Sequence[int]


def log_spaced_epochs(n_epochs: int, n_snapshots: int) -> list[int]:
    """Epochs to save, dense early and sparse late (Shwartz-Ziv & Tishby 2017).

    The saved epochs run from 0 (the initial weights, before any training) to
    ``n_epochs`` (the end of training) and are spaced evenly in log(epoch + 1):
    the first epochs are all kept until log spacing would skip none, then the
    gaps grow geometrically.

    Parameters
    ----------
    n_epochs : int
        Number of training epochs (>= 1); epochs are numbered 0..n_epochs.
    n_snapshots : int
        How many epochs to save (>= 2). Capped at ``n_epochs + 1`` (every epoch).

    Returns
    -------
    list of int
        Exactly ``min(n_snapshots, n_epochs + 1)`` sorted distinct epochs, first 0, last ``n_epochs``.

    Raises
    ------
    IBViewerError
        ``n_epochs < 1`` or ``n_snapshots < 2``.

    Examples
    --------
    >>> log_spaced_epochs(1000, 10)
    [0, 1, 4, 9, 21, 45, 99, 215, 464, 1000]
    """
    n_epochs, n_snapshots = int(n_epochs), int(n_snapshots)
    if n_epochs < 1:
        raise IBViewerError(f"n_epochs must be at least 1, got {n_epochs}.")
    if n_snapshots < 2:
        raise IBViewerError(f"n_snapshots must be at least 2 (the first and the last epoch), got {n_snapshots}.")
    if n_snapshots >= n_epochs + 1:
        return list(range(n_epochs + 1))
    # keep epochs 0..dense-1, then log-space the rest from `dense` to n_epochs; the
    # smallest `dense` whose log-spaced tail has no repeats gives exactly n_snapshots
    for dense in range(n_snapshots - 1):
        tail = np.rint(np.geomspace(dense + 1, n_epochs + 1, n_snapshots - dense)).astype(np.int64) - 1
        if np.all(np.diff(tail) > 0):
            return list(range(dense)) + [int(e) for e in tail]
    raise AssertionError("unreachable: two points are always distinct")  # pragma: no cover


class Recorder:
    """Save a training run's snapshots into an ibviewer run folder.

    Call :meth:`record` once per epoch (it saves only the epochs the schedule
    asks for, unless told otherwise with ``force=True``); open the folder with
    ``ibviewer.open_run`` or ``ibviewer FOLDER`` at any time, even while training.

    Parameters
    ----------
    run_dir : str or Path
        The run folder; created if missing. An existing run folder with the same
        model factory, keyword arguments and dataset is continued; anything else
        that looks like a run is refused.
    model_factory : str
        ``"module:callable"`` that builds the model, e.g. ``"ibviewer.models:mlp"``
        or ``"model.py:Net"`` (a file relative to the run folder).
    model_kwargs : dict, optional
        JSON-serialisable keyword arguments of the factory.
    dataset : str
        Dataset spec: ``"digits"``, ``"ib12"``, or a ``.npz``/MNIST file (relative
        paths are taken relative to the run folder).
    schedule : {"every", "log"} or list of int, default="every"
        Which epochs :meth:`should_record` accepts: all of them, ``n_snapshots``
        log-spaced ones out of ``0..n_epochs`` (see :func:`log_spaced_epochs`),
        or an explicit list.
    n_epochs : int, optional
        Number of training epochs; required for ``schedule="log"``.
    n_snapshots : int, default=100
        Snapshots kept by ``schedule="log"``.
    layers : list of str, optional
        Default layers to capture (``named_modules`` names); otherwise ibviewer
        picks the hidden representations.
    name : str, optional
        Shown in titles; defaults to the folder name.
    extra : dict, optional
        Any JSON you want kept with the run (training settings, seed).
    test_indices : array of int, optional
        Held-out sample indices into the dataset; saved to ``split.npz``.
    restart : bool, default=False
        When the folder already holds this run, drop its snapshots and start
        over instead of continuing it.

    Raises
    ------
    RunFormatError
        The folder holds a different run (other factory, kwargs, dataset or split),
        an unreadable manifest, or weights without a manifest.
    IBViewerError
        Invalid schedule or arguments that are not JSON-serialisable.

    Examples
    --------
    >>> rec = Recorder("runs/mlp", "ibviewer.models:mlp", {"sizes": [64, 32, 10]}, "digits",
    ...                schedule="log", n_epochs=200, n_snapshots=40)
    >>> for epoch in range(201):
    ...     if epoch > 0:
    ...         train_one_epoch(model)
    ...     if rec.should_record(epoch):
    ...         rec.record(epoch, model, {"loss": loss, "train_acc": acc})
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        model_factory: str,
        model_kwargs: Mapping[str, Any] | None = None,
        dataset: str = "",
        schedule: Schedule = "every",
        n_epochs: int | None = None,
        n_snapshots: int = 100,
        layers: Sequence[str] | None = None,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
        test_indices: Iterable[int] | np.ndarray | None = None,
        restart: bool = False,
    ) -> None:
        if not isinstance(model_factory, str) or ":" not in model_factory:
            raise IBViewerError(
                f"model_factory must be 'module:callable' (e.g. 'ibviewer.models:mlp'), got {model_factory!r}."
            )
        if not dataset:
            raise IBViewerError("dataset is required: a spec such as 'digits', 'ib12' or a .npz file.")
        self.path = Path(run_dir)
        self.model_factory = model_factory
        self.model_kwargs = _jsonable(dict(model_kwargs or {}), "model_kwargs")
        self.dataset = str(dataset)
        self.layers = list(layers) if layers is not None else None
        self.name = name
        self.extra = _jsonable(dict(extra), "extra") if extra is not None else None
        self.n_epochs = n_epochs
        self._planned = self._plan(schedule, n_epochs, n_snapshots)
        self.schedule = schedule if isinstance(schedule, str) else list(self._planned or [])
        self.test_indices = None if test_indices is None else _as_indices(test_indices)
        self._entries: list[ManifestEpoch] = []
        self._state_keys: tuple[str, ...] | None = None
        self._open(restart)

    # ------------------------------------------------------------------ schedule

    @staticmethod
    def _plan(schedule: Schedule, n_epochs: int | None, n_snapshots: int) -> frozenset[int] | None:
        if isinstance(schedule, str):
            if schedule == "every":
                return None
            if schedule == "log":
                if n_epochs is None:
                    raise IBViewerError("schedule='log' needs n_epochs (the number of training epochs).")
                return frozenset(log_spaced_epochs(n_epochs, n_snapshots))
            raise IBViewerError(f"schedule must be 'every', 'log' or a list of epochs, got {schedule!r}.")
        try:
            epochs = [int(e) for e in schedule]
        except (TypeError, ValueError) as exc:
            raise IBViewerError(f"schedule must be 'every', 'log' or a list of int epochs ({exc}).") from exc
        if not epochs or min(epochs) < 0:
            raise IBViewerError(f"an explicit schedule needs at least one epoch, all >= 0; got {list(schedule)}.")
        return frozenset(epochs)

    def should_record(self, epoch: int) -> bool:
        """Whether the schedule saves ``epoch``."""
        return self._planned is None or int(epoch) in self._planned

    @property
    def planned_epochs(self) -> list[int] | None:
        """The epochs the schedule saves, sorted; None for ``"every"``."""
        return None if self._planned is None else sorted(self._planned)

    @property
    def epochs(self) -> tuple[int, ...]:
        """Epochs saved so far (including those of an earlier, interrupted session)."""
        return tuple(entry.epoch for entry in self._entries)

    @property
    def last_epoch(self) -> int | None:
        """The last saved epoch, or None before the first snapshot."""
        return self._entries[-1].epoch if self._entries else None

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    # ------------------------------------------------------------------ opening

    def _open(self, restart: bool) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunFormatError(f"{self.path} is a file; the recorder needs a folder for the run.")
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / WEIGHTS_DIR).mkdir(exist_ok=True)
        self._remove_temporaries()
        manifest = self._read_existing()
        if manifest is None:
            stray = sorted((self.path / WEIGHTS_DIR).glob("*.safetensors"))
            if stray:
                raise RunFormatError(
                    f"{self.path} holds weight files ({stray[0].name}, ...) but no {MANIFEST_NAME}, so it is not "
                    "a run this recorder can continue. Choose an empty folder or remove those files."
                )
        else:
            self._check_same_run(manifest, check_split=not restart)
            if not restart:
                self._entries = self._complete_entries(manifest)
        if self.test_indices is not None:
            save_npz_atomic(self.path / SPLIT_NAME, {SPLIT_KEY: self.test_indices})
            _readable(self.path / SPLIT_NAME)
        self._write_manifest()
        self._remove_unlisted_weights()
        if self._entries:
            logger.info("continuing run %s after epoch %d", self.path, self._entries[-1].epoch)

    def _read_existing(self) -> Manifest | None:
        if not self.manifest_path.exists():
            return None
        try:
            return read_manifest(self.manifest_path)
        except RunFormatError as exc:
            raise RunFormatError(
                f"{exc} The recorder will not overwrite it: choose another folder, or delete the file if the run "
                "is not needed."
            ) from exc

    def _check_same_run(self, manifest: Manifest, check_split: bool) -> None:
        theirs = {"model factory": manifest.factory, "model kwargs": dict(manifest.kwargs), "dataset": manifest.dataset}
        ours = {"model factory": self.model_factory, "model kwargs": self.model_kwargs, "dataset": self.dataset}
        different = [key for key in ours if theirs[key] != ours[key]]
        if check_split and self.test_indices is not None and manifest.split:
            old = _read_split(self.path / manifest.split)
            if old is not None and not np.array_equal(np.sort(old), np.sort(self.test_indices)):
                different.append("test split")
        if different:
            details = "; ".join(f"{key}: {theirs[key]!r} there, {ours[key]!r} here" for key in different if key in ours)
            raise RunFormatError(
                f"{self.path} already holds a different run ({', '.join(different)} differ"
                f"{': ' + details if details else ''}). The recorder never overwrites another run: "
                "choose a new folder, or delete the old one."
            )

    def _complete_entries(self, manifest: Manifest) -> list[ManifestEpoch]:
        entries = []
        for entry in manifest.epochs:
            if not (self.path / entry.weights).is_file():
                logger.warning("dropping manifest entry %r of %s: its weights file is missing", entry, self.path)
                continue
            entries.append(entry)
        return sorted(entries, key=lambda e: e.epoch)

    def _remove_temporaries(self) -> None:
        for folder in (self.path, self.path / WEIGHTS_DIR):
            for tmp in folder.glob(".*.tmp"):
                logger.info("removing %s left by an interrupted write", tmp)
                tmp.unlink(missing_ok=True)

    def _remove_unlisted_weights(self) -> None:
        listed = {str(self.path / entry.weights) for entry in self._entries}
        for weights in (self.path / WEIGHTS_DIR).glob("epoch_*.safetensors"):
            if str(weights) not in listed:
                logger.info("removing %s: no manifest entry names it (interrupted or dropped)", weights)
                weights.unlink(missing_ok=True)

    # ------------------------------------------------------------------ recording

    def record(
        self,
        epoch: int,
        model: nn.Module | Mapping[str, torch.Tensor],
        metrics: Mapping[str, float] | None = None,
        dtype: torch.dtype | None = None,
        force: bool = False,
    ) -> bool:
        """Save the model's weights (and metrics) for ``epoch`` if the schedule asks for it.

        The weights file is written completely (temporary file, then rename)
        before the manifest is rewritten (the same way) to name it.

        Parameters
        ----------
        epoch : int
            The epoch number (0 = before training). Recording an epoch at or before
            the last saved one means training went back there: later snapshots are
            dropped (with a warning).
        model : nn.Module or dict of str to Tensor
            The model, or its ``state_dict``.
        metrics : dict of str to float, optional
            Flat training metrics, e.g. ``{"loss": 0.3, "train_acc": 0.9, "test_acc": 0.88}``.
            Non-finite values are left out (with a warning).
        dtype : torch.dtype, optional
            Store floating-point tensors in this dtype, e.g. ``torch.float16`` to halve
            the size; readers cast back to the model's dtype.
        force : bool, default=False
            Save even if the schedule does not include ``epoch``.

        Returns
        -------
        bool
            True if a snapshot was written.

        Raises
        ------
        IBViewerError
            Negative epoch or non-numeric metrics.
        ModelMismatchError
            The tensors' names differ from those of the first snapshot.
        """
        epoch = int(epoch)
        if epoch < 0:
            raise IBViewerError(f"epoch must be >= 0, got {epoch}.")
        if not force and not self.should_record(epoch):
            return False
        clean_metrics = _clean_metrics(metrics)
        state = _state_tensors(model, dtype)
        self._check_keys(tuple(state))
        dropped = [e for e in self._entries if e.epoch >= epoch]
        if dropped and not (len(dropped) == 1 and dropped[0].epoch == epoch):
            warnings.warn(
                f"Recording epoch {epoch} of {self.path.name} again: the later snapshots "
                f"{[e.epoch for e in dropped]} are dropped (training went back to an earlier epoch).",
                stacklevel=2,
            )

        from safetensors.torch import save as save_safetensors

        weights = weights_name(epoch)
        payload = save_safetensors(state, metadata={"format": FORMAT_NAME, "epoch": str(epoch)})
        atomic_write_bytes(self.path / weights, payload)
        _readable(self.path / weights)
        previous = self._entries
        self._entries = [e for e in previous if e.epoch < epoch] + [ManifestEpoch(epoch, weights, clean_metrics)]
        try:
            self._write_manifest()
        except BaseException:
            self._entries = previous  # the manifest on disk still names only the old snapshots
            raise
        for old in dropped:
            if old.weights != weights:
                (self.path / old.weights).unlink(missing_ok=True)
        return True

    def _check_keys(self, keys: tuple[str, ...]) -> None:
        if self._state_keys is None and self._entries:
            self._state_keys = _safetensors_keys(self.path / self._entries[0].weights)
        if self._state_keys is None:
            self._state_keys = tuple(sorted(keys))
        elif tuple(sorted(keys)) != self._state_keys:
            missing = sorted(set(self._state_keys) - set(keys))
            unexpected = sorted(set(keys) - set(self._state_keys))
            raise ModelMismatchError(
                f"The model's tensors differ from the run's earlier snapshots (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}). Record one model per run folder."
            )

    def _manifest(self) -> Manifest:
        has_split = self.test_indices is not None or (self.path / SPLIT_NAME).exists()
        return Manifest(
            factory=self.model_factory, dataset=self.dataset, epochs=tuple(self._entries), kwargs=self.model_kwargs,
            name=self.name, layers=tuple(self.layers) if self.layers is not None else None,
            split=SPLIT_NAME if has_split else None, extra=self.extra,
        )  # fmt: skip

    def manifest(self) -> dict[str, Any]:
        """The manifest as it is written to ``run.json``."""
        return self._manifest().to_dict()

    def _write_manifest(self) -> None:
        atomic_write_text(self.manifest_path, self._manifest().to_json())
        _readable(self.manifest_path)

    def load_weights(self, model: nn.Module, epoch: int | None = None) -> int:
        """Load a saved snapshot into ``model`` (default: the last), e.g. to resume training.

        Returns
        -------
        int
            The epoch loaded.

        Raises
        ------
        IBViewerError
            No snapshot saved yet, or ``epoch`` was not saved.
        """
        if not self._entries:
            raise IBViewerError(f"{self.path} has no saved snapshot to load yet.")
        if epoch is None:
            entry = self._entries[-1]
        else:
            found = [e for e in self._entries if e.epoch == int(epoch)]
            if not found:
                raise IBViewerError(f"Epoch {epoch} was not saved in {self.path}; saved: {list(self.epochs)}.")
            entry = found[0]
        from safetensors.torch import load_file

        reference = model.state_dict()
        state = {
            key: value.to(reference[key].dtype) if key in reference else value
            for key, value in load_file(str(self.path / entry.weights)).items()
        }
        model.load_state_dict(state)
        return entry.epoch


def _readable(path: Path) -> None:
    # temporary files are created private (0600); a run folder is meant to be shared like any file
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o666 & ~umask)
    except OSError:
        pass


def _state_tensors(model: Any, dtype: Any) -> dict[str, Any]:
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    tensors = {}
    for key, value in state.items():
        # copy: safetensors refuses shared storage (tied weights) and must not see later updates
        tensor = value.detach().to("cpu", copy=True).contiguous()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[key] = tensor
    if not tensors:
        raise IBViewerError("The model has no parameters or buffers to save.")
    return tensors


def _safetensors_keys(path: Path) -> tuple[str, ...] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return tuple(sorted(handle.keys()))
    except Exception:  # an unreadable old snapshot only disables the check
        return None


def _clean_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    clean: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise IBViewerError(f"metric {key!r} must be a number, got {value!r}.") from exc
        if not math.isfinite(number):
            warnings.warn(f"metric {key!r} is {number}; it is not saved.", stacklevel=3)
            continue
        clean[str(key)] = number
    return clean


def _as_indices(values: Iterable[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)) or (array < 0).any():
        raise IBViewerError("test_indices must be a 1-D array of non-negative integer sample indices.")
    return array.astype(np.int64)


def _read_split(path: Path) -> np.ndarray | None:
    try:
        return read_split(path)
    except RunFormatError:
        return None


def _jsonable(value: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise IBViewerError(f"{what} must be JSON-serialisable (numbers, strings, lists, dicts): {exc}.") from exc

