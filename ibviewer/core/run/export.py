"""``torch.export`` programs (``.pt2``): one epoch, run through the program's graph."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core import activations as act
from ibviewer.core.checkpoint import epoch_from_name
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run import files
from ibviewer.core.run.checkpoints import require_dataset
from ibviewer.core.run.source import Capture, EpochEntry, ModelSource
from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.export import ExportedProgram

    from ibviewer.core.run.detect import OpenRequest

__all__ = ["ExportSource", "ExportOpener"]


class ExportSource(ModelSource):
    """A ``torch.export`` program; the captured layers are the outputs of the original modules."""

    def __init__(self, *, program: ExportedProgram, **description: Any) -> None:
        super().__init__(**description)
        self.program = program

    @property
    def n_parameters(self) -> int | None:
        return int(sum(p.numel() for p in self.program.state_dict.values()))

    def load_model(self, epoch: int) -> nn.Module:
        raise IBViewerError("A torch.export program is run through its graph; it has no nn.Module to load.")

    def content_digests(self, progress: Progress = NULL_PROGRESS) -> list[str]:
        return [files.digest(self.path, progress)]

    def open_capture(self, epoch: int, layer_names: Sequence[str], device: torch.device) -> tuple[Capture, torch.dtype]:
        import torch

        return act.ExportCapture(self.program), torch.float32

    def mismatch_hint(self, capture: Capture) -> str:
        if isinstance(capture, act.ExportCapture) and capture.input_shape is not None:
            return f" The program takes inputs of shape {capture.input_shape} per sample."
        return ""


class ExportOpener:
    """A ``.pt2`` file written by ``torch.export.save``."""

    def claims(self, path: Path) -> bool:
        return path.suffix == ".pt2"

    def needs_model(self, path: Path) -> bool:
        return False

    def needs_dataset(self, path: Path) -> bool:
        return True

    def open(self, path: Path, request: OpenRequest) -> ExportSource:
        program = files.read_export(path, trust_pickle=request.trust_pickle)
        return ExportSource(
            kind="export", path=path, name=path.name, entries=[EpochEntry(epoch_from_name(path) or 0, path)],
            dataset=require_dataset(request.dataset, path.name), program=program,
        )  # fmt: skip
