"""Following runs that grow: a Recorder run, a checkpoint folder; only new epochs are extracted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibviewer.core.activations import ExtractOptions
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.recorder import Recorder
from ibviewer.core.run import LiveRun, open_run
from ibviewer.errors import Cancelled
from ibviewer.models import mlp

KWARGS = {"sizes": [12, 8, 6, 2]}


def _train_a_little(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))


def _recorded(tmp_path, epochs, model=None):
    rec = Recorder(tmp_path / "run", "ibviewer.models:mlp", KWARGS, "ib12")
    model = model or mlp(**KWARGS)
    for epoch in epochs:
        _train_a_little(model, epoch)
        rec.record(epoch, model, {"loss": 1.0 / (epoch + 1)})
    return rec, model


def _assert_same(grown, fresh):
    assert grown.epochs == fresh.epochs and grown.layer_names == fresh.layer_names
    for name in fresh.layer_names:
        np.testing.assert_allclose(grown.values[name], fresh.values[name], atol=1e-6)


def test_a_recorder_run_grows_and_only_new_epochs_are_extracted(tmp_path):
    rec, model = _recorded(tmp_path, [0, 1])
    run = open_run(tmp_path / "run")
    options = ExtractOptions(max_samples=200)
    acts = run.activations(options)
    live = LiveRun(run)
    assert live.followable and live.watched_paths() == (tmp_path / "run", tmp_path / "run" / "weights")
    assert not live.rescan().changed  # nothing new yet

    for epoch in (2, 3):
        _train_a_little(model, epoch)
        rec.record(epoch, model, {"loss": 0.1})
    changes = live.rescan()
    assert [e.epoch for e in changes.added] == [2, 3] and changes.removed == () and run.epochs == (0, 1, 2, 3)
    assert run.metrics[3] == {"loss": 0.1}
    progress = RecordingProgress()
    grown = live.extend(acts, changes, progress=progress)
    assert any("epoch 2" in message for _, message in progress.updates)
    assert not any("epoch 0" in message or "epoch 1" in message for _, message in progress.updates)  # not redone
    _assert_same(grown, open_run(tmp_path / "run").activations(options, use_cache=False))
    # the grown set went to the cache: reopening the run loads it
    reopened = RecordingProgress()
    open_run(tmp_path / "run").activations(options, progress=reopened)
    assert reopened.updates == [(1.0, "activations loaded from cache")]


def test_a_recorder_that_goes_back_rewrites_and_removes_epochs(tmp_path):
    rec, model = _recorded(tmp_path, [0, 1, 2])
    run = open_run(tmp_path / "run")
    acts = run.activations(ExtractOptions(max_samples=100))
    live = LiveRun(run)
    _train_a_little(model, 99)
    with pytest.warns(UserWarning, match="later snapshots"):
        rec.record(1, model)  # training went back to epoch 1: epoch 2 is dropped, epoch 1 rewritten
    changes = live.rescan()
    assert [e.epoch for e in changes.added] == [1] and changes.removed == (2,)
    kept = live.extend(acts, changes)
    assert kept.epochs == (0, 1, 2)  # what was extracted stays unless asked otherwise
    dropped = live.extend(acts, changes, drop_removed=True)
    _assert_same(dropped, open_run(tmp_path / "run").activations(ExtractOptions(max_samples=100), use_cache=False))


def test_a_checkpoint_folder_that_gains_files(ib12_checkpoints, net):
    folder, spec = ib12_checkpoints
    run = open_run(folder, model=spec, dataset="ib12")
    acts = run.activations(ExtractOptions(max_samples=64))
    live = LiveRun(run)
    assert live.watched_paths() == (folder,)
    torch.manual_seed(7)
    payload = {"epoch": 40, "model_state_dict": net.make().state_dict(), "loss": 0.01}
    torch.save(payload, folder / "e040.pt")
    data = (folder / "e040.pt").read_bytes()
    (folder / "e040.pt").write_bytes(data[: len(data) // 2])  # still being written
    changes = live.rescan()
    assert changes.pending == (folder / "e040.pt",) and not changes.changed and run.epochs == (1, 5, 20)
    (folder / "e040.pt").write_bytes(data)
    changes = live.rescan()
    assert [e.epoch for e in changes.added] == [40] and changes.pending == ()
    with pytest.raises(Cancelled):
        live.extend(acts, changes, progress=RecordingProgress(cancel_after=0))
    grown = live.extend(acts, changes)
    assert grown.epochs == (1, 5, 20, 40) and acts.epochs == (1, 5, 20)
    _assert_same(grown, open_run(folder, model=spec, dataset="ib12").activations(ExtractOptions(max_samples=64), use_cache=False))


def test_single_files_are_not_followed(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    live = LiveRun(open_run(folder / "e005.pt", model=spec, dataset="ib12"))
    assert not live.followable and live.watched_paths() == () and not live.rescan().changed
