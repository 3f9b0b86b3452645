"""What a path is: which opener claims it, what opening it needs, and adding a kind of input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from ibviewer.core.run import OPENERS, RunSource, detect, needs_dataset, needs_model, open_run
from ibviewer.core.run.source import EpochEntry
from ibviewer.core.types import Dataset, LayerInfo
from ibviewer.errors import CheckpointLoadError, IBViewerError


def test_what_opening_needs(tmp_path, ib12_checkpoints, rng):
    folder, _ = ib12_checkpoints
    assert needs_model(folder) and needs_dataset(folder)
    assert needs_model(folder / "e005.pt")
    weights = tmp_path / "w"
    weights.mkdir()
    save_file({"0.weight": torch.zeros(2, 2)}, weights / "epoch_1.safetensors")
    assert needs_model(weights) and needs_model(weights / "epoch_1.safetensors")  # safetensors weights, folder or file
    save_numpy({"labels": np.arange(4), "act/h": rng.normal(size=(4, 2))}, tmp_path / "acts.safetensors")
    assert not needs_model(tmp_path / "acts.safetensors") and not needs_dataset(tmp_path / "acts.safetensors")
    (tmp_path / "p.pt2").write_bytes(b"")
    assert not needs_model(tmp_path / "p.pt2") and needs_dataset(tmp_path / "p.pt2")
    (weights / "run.json").write_text("{}")
    assert not needs_model(weights) and not needs_dataset(weights)  # an ibviewer run names its own
    (tmp_path / "broken.safetensors").write_bytes(b"junk")
    assert not needs_model(tmp_path / "broken.safetensors")  # unreadable: open_run says why
    with pytest.raises(CheckpointLoadError, match="not a valid safetensors file"):
        open_run(tmp_path / "broken.safetensors", dataset="ib12")


def test_paths_that_are_nothing_ibviewer_opens(tmp_path):
    with pytest.raises(IBViewerError, match="does not exist"):
        open_run(tmp_path / "missing.pt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(IBViewerError, match=r"notes\.txt is not a file ibviewer opens"):
        open_run(tmp_path / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointLoadError, match="holds no checkpoints"):
        open_run(empty, dataset="ib12")


class _TableSource(RunSource):
    """A made-up kind of input: one epoch whose 'activation' is the input table itself."""

    def discover_layers(self):
        layer = LayerInfo("table", "table", (2,), 2)
        return (layer,), (layer,)

    def extract(self, layers, sample_idx, options, progress):
        return {"table": self.dataset.x[sample_idx][None].astype(np.float32)}


class _TableOpener:
    def claims(self, path):
        return path.suffix == ".table"

    def needs_model(self, path):
        return False

    def needs_dataset(self, path):
        return False

    def open(self, path, request):
        x = np.loadtxt(path, delimiter=",", ndmin=2)
        data = Dataset(name=path.name, spec=str(path), kind="features", x=x, y=np.arange(len(x)) % 2)
        return _TableSource(kind="table", path=path, name=path.name, entries=[EpochEntry(0, path)], dataset=data)


def test_a_new_kind_of_input_is_one_opener_in_the_list(tmp_path, monkeypatch):
    (tmp_path / "t.table").write_text("1,2\n3,4\n5,6\n")
    with pytest.raises(IBViewerError, match="not a file ibviewer opens"):
        open_run(tmp_path / "t.table")
    monkeypatch.setattr(detect, "OPENERS", (_TableOpener(), *OPENERS))
    run = open_run(tmp_path / "t.table")
    assert run.kind == "table" and not needs_model(tmp_path / "t.table")
    acts = run.activations()
    np.testing.assert_array_equal(acts.layer("table", 0), [[1, 2], [3, 4], [5, 6]])
    assert run.summary()["model"] is None
