"""What a path is, and opening it: :func:`open_run`, :func:`needs_model`, :func:`needs_dataset`.

Each kind of input has an :class:`Opener` in its own module; :data:`OPENERS` lists them
in the order they are asked (the first that claims a path opens it). A new kind of
input is one new module with an opener and one line here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run import files
from ibviewer.core.run.archive import ArchiveOpener
from ibviewer.core.run.checkpoints import CheckpointFileOpener, CheckpointFolderOpener
from ibviewer.core.run.export import ExportOpener
from ibviewer.core.run.hf_trainer import TrainerCheckpointOpener, TrainerOutputOpener
from ibviewer.core.run.lightning import LightningOpener
from ibviewer.core.run.run import Run
from ibviewer.core.run.run_folder import RunFolderOpener
from ibviewer.core.run.source import RunSource
from ibviewer.core.safe_read import check_regular
from ibviewer.core.types import Dataset
from ibviewer.errors import CheckpointLoadError, IBViewerError

__all__ = ["OpenRequest", "Opener", "OPENERS", "opener_for", "open_run", "needs_model", "needs_dataset"]


@dataclass(frozen=True)
class OpenRequest:
    """What the user said besides the path: the model factory, the dataset, and what they consented to.

    ``trust_pickle``: unpickle files (runs code in them). ``trust_model``: import and call
    ``model``, the factory the user named. ``trust_factory``: import and call the factory a
    run folder names. ``progress``: openers that read many files report and check
    cancellation with it.
    """

    model: str | None = None
    dataset: Dataset | None = None
    trust_pickle: bool = False
    model_kwargs: Mapping[str, Any] | None = None
    trust_model: bool = True
    trust_factory: bool = False
    progress: Progress = NULL_PROGRESS


class Opener(Protocol):
    """Recognises one kind of input and opens it as a :class:`RunSource`."""

    def claims(self, path: Path) -> bool:
        """Whether ``path`` is this kind of input (a cheap look: names, a file header)."""
        ...

    def needs_model(self, path: Path) -> bool:
        """Whether opening ``path`` needs ``model=`` (the input holds weights only)."""
        ...

    def needs_dataset(self, path: Path) -> bool:
        """Whether opening ``path`` needs ``dataset=`` (the input names no data)."""
        ...

    def open(self, path: Path, request: OpenRequest) -> RunSource:
        """Read ``path`` (through :mod:`ibviewer.core.run.files`) into a source; raises IBViewerError."""
        ...


#: Asked in order; the first opener that claims a path opens it.
OPENERS: tuple[Opener, ...] = (
    RunFolderOpener(),  # a folder with run.json, or run.json itself
    TrainerOutputOpener(),  # a transformers Trainer output_dir: checkpoint-<step>/ folders
    TrainerCheckpointOpener(),  # one checkpoint-<step>/ (or save_pretrained) folder
    LightningOpener(),  # a Lightning root, lightning_logs/version_N/ or its checkpoints/
    CheckpointFolderOpener(),  # any other folder: its checkpoint files
    ExportOpener(),  # .pt2
    ArchiveOpener(),  # .npz, .safetensors with act/ keys
    CheckpointFileOpener(),  # .pt .pth .ckpt .safetensors
)


def opener_for(path: Path) -> Opener | None:
    """The opener that claims ``path``, or None.

    Raises
    ------
    CheckpointLoadError
        An opener had to read the file to tell, and it is damaged.
    """
    return next((opener for opener in OPENERS if opener.claims(path)), None)


def open_run(
    path: str | os.PathLike[str],
    model: str | None = None,
    dataset: str | Dataset | None = None,
    *,
    trust_pickle: bool = False,
    model_kwargs: Mapping[str, Any] | None = None,
    trust_factory: bool | None = None,
    progress: Progress = NULL_PROGRESS,
) -> Run:
    """Open a run: an ibviewer run, a training output folder, a checkpoint folder or file, a ``.pt2`` program or an archive.

    Training output folders are a transformers ``Trainer`` ``output_dir`` (or one
    ``checkpoint-<step>`` in it) and a Lightning ``default_root_dir`` (or one ``version_N``).

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
    trust_factory : bool, optional
        Consent to import and call model factories outside ``ibviewer.models``. None (the
        default): the ``model`` you pass is trusted (you named it), a run folder's own
        factory is not. True: both are. False: neither (a request read from a session file).
    progress : Progress
        Opening a folder of many checkpoints reports and checks cancellation per file.

    Returns
    -------
    Run
        Epochs ordered, layers discovered, dataset checked against the model.

    Raises
    ------
    ConsentRequired
        Opening would run code from the input (a pickle, a model factory) that was not consented to;
        the exception says what would run (see :mod:`ibviewer.errors`).
    IBViewerError
        Any problem, with a message that names the file and what to do.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise IBViewerError(f"{path} does not exist. Give a run folder, a checkpoint, a .pt2 program or an activations archive.")
    if not path.is_dir():
        check_regular(path)
    request = OpenRequest(
        model, files.read_dataset(dataset), trust_pickle, model_kwargs,
        trust_model=trust_factory is not False, trust_factory=bool(trust_factory), progress=progress,
    )  # fmt: skip
    opener = opener_for(path)
    if opener is None:
        raise IBViewerError(
            f"{path.name} is not a file ibviewer opens. Open a run folder, a .pt/.pth/.ckpt/.safetensors "
            "checkpoint, a .pt2 torch.export program or a .npz/.safetensors activations archive."
        )
    return Run(opener.open(path, request))


def _opener_or_none(path: str | os.PathLike[str]) -> tuple[Opener | None, Path]:
    path = Path(path).expanduser()
    try:
        return opener_for(path), path
    except CheckpointLoadError:
        return None, path  # unreadable: open_run reports it


def needs_model(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`open_run` needs ``model=`` for ``path`` (plain checkpoints hold weights only)."""
    opener, path = _opener_or_none(path)
    return opener is not None and opener.needs_model(path)


def needs_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`open_run` needs ``dataset=`` for ``path`` (checkpoints and ``.pt2`` programs)."""
    opener, path = _opener_or_none(path)
    return opener is not None and opener.needs_dataset(path)
