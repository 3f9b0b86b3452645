"""What both training callbacks share: where and how often to record, and starting the Recorder."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibviewer.core.recorder import Recorder, Schedule

__all__ = ["RecordingPlan"]


@dataclass
class RecordingPlan:
    """The run folder, dataset and schedule a callback records with (see the callbacks' parameters)."""

    run_dir: str | os.PathLike[str]
    dataset: str
    schedule: Schedule = "every"
    n_snapshots: int = 100
    layers: Sequence[str] | None = None
    record_initial: bool = True
    recorder_options: Mapping[str, Any] = field(default_factory=dict)

    def start(self, factory: str, kwargs: Mapping[str, Any] | None, n_epochs: int | None, model: Any) -> Recorder:
        """A Recorder for this plan (continuing an earlier run of the same model), epoch 0 saved if new."""
        recorder = Recorder(
            self.run_dir, factory, kwargs, self.dataset, schedule=self.schedule, n_epochs=n_epochs,
            n_snapshots=self.n_snapshots, layers=self.layers, **dict(self.recorder_options),
        )  # fmt: skip
        if self.record_initial and recorder.last_epoch is None:
            recorder.record(0, model, force=True)
        return recorder
