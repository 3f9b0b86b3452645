"""Opening what researchers have as one :class:`Run`: checkpoint folders, single checkpoints,
ibviewer runs, ``torch.export`` programs and precomputed activation archives.

Layout: ``detect.py`` decides what a path is and opens it (:func:`open_run`,
:func:`needs_model`, :func:`needs_dataset`, the ordered :data:`OPENERS`); one module per
kind of input holds its opener and :class:`RunSource` (``checkpoints.py``,
``run_folder.py``, ``hf_trainer.py``, ``lightning.py``, ``export.py``, ``archive.py``);
``source.py`` the source interface; ``run.py`` the :class:`Run` they all become;
``files.py`` every file read; ``training_logs.py`` the logs training libraries keep;
``transformers_model.py`` models built from a ``config.json``; ``survey.py`` what a path
holds before opening it; ``live.py`` following a run that is still being written.
"""

from __future__ import annotations

from ibviewer.core.run.detect import OPENERS, Opener, OpenRequest, needs_dataset, needs_model, open_run, opener_for
from ibviewer.core.run.lightning import lightning_versions
from ibviewer.core.run.live import LiveRun, RunChanges
from ibviewer.core.run.run import Run
from ibviewer.core.run.source import Capture, EpochEntry, ModelSource, RunSource
from ibviewer.core.run.survey import Survey, survey
from ibviewer.core.run_format import FORMAT_VERSION as RUN_FORMAT_VERSION
from ibviewer.core.run_format import MANIFEST_NAME

__all__ = [
    "Run",
    "EpochEntry",
    "open_run",
    "needs_model",
    "needs_dataset",
    "RUN_FORMAT_VERSION",
    "MANIFEST_NAME",
    "RunSource",
    "ModelSource",
    "Capture",
    "Opener",
    "OpenRequest",
    "OPENERS",
    "opener_for",
    "survey",
    "Survey",
    "LiveRun",
    "RunChanges",
    "lightning_versions",
]
