"""The Recorder: round trips, schedules, crash safety and refusing to overwrite another run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import ibviewer
from ibviewer.core.recorder import Recorder, log_spaced_epochs
from ibviewer.errors import IBViewerError, ModelMismatchError, RunFormatError
from ibviewer.models import mlp

SIZES = [64, 16, 8, 10]
FACTORY = "ibviewer.models:mlp"
KWARGS = {"sizes": SIZES, "activation": "tanh"}


def _train_step(model: torch.nn.Module, seed: int) -> float:
    """One plain SGD step on random digits-shaped data; returns the loss."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(32, 64, generator=gen)
    y = torch.randint(0, 10, (32,), generator=gen)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    return float(loss.detach())


def _recorder(path: Path, **kwargs) -> Recorder:
    return Recorder(path, FACTORY, KWARGS, "digits", **kwargs)


def _manifest(path: Path) -> dict:
    return json.loads((path / "run.json").read_text())


def test_round_trip_weights_and_metrics_reload_equal(tmp_path):
    torch.manual_seed(0)
    model = mlp(SIZES)
    rec = _recorder(tmp_path / "run", name="tiny", extra={"seed": 0}, test_indices=[3, 1, 2])
    saved = {}
    for epoch in range(3):
        loss = _train_step(model, epoch) if epoch else float("nan")
        metrics = {"loss": loss, "train_acc": 0.1 * epoch} if epoch else {"train_acc": 0.0}
        assert rec.record(epoch, model, metrics)
        saved[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    manifest = _manifest(tmp_path / "run")
    assert manifest["format"] == "ibviewer-run" and manifest["version"] == 1
    assert manifest["model"] == {"factory": FACTORY, "kwargs": KWARGS}
    assert [e["epoch"] for e in manifest["epochs"]] == [0, 1, 2]
    assert manifest["split"] == {"test_indices": "split.npz"}
    assert manifest["extra"] == {"seed": 0}

    run = ibviewer.open_run(tmp_path / "run")
    assert run.epochs == (0, 1, 2)
    assert run.name == "tiny"
    assert run.metrics[1]["train_acc"] == pytest.approx(0.1)
    assert run.metrics[2]["loss"] == pytest.approx(manifest["epochs"][2]["metrics"]["loss"])
    np.testing.assert_array_equal(np.sort(run.test_indices), [1, 2, 3])
    for epoch, state in saved.items():
        loaded = run.load_model(epoch).state_dict()
        for key, value in state.items():
            assert torch.equal(loaded[key], value), (epoch, key)
    # the weights really changed between epochs (the round trip is not trivially equal)
    assert not torch.equal(saved[0]["net.0.weight"], saved[2]["net.0.weight"])

    fresh = mlp(SIZES)
    assert rec.load_weights(fresh, 1) == 1
    assert torch.equal(fresh.state_dict()["net.2.weight"], saved[1]["net.2.weight"])


def test_float16_snapshots_load_as_float32_close(tmp_path):
    torch.manual_seed(1)
    model = mlp(SIZES)
    rec = _recorder(tmp_path)
    rec.record(0, model, dtype=torch.float16)
    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "weights" / "epoch_000000.safetensors"))
    assert all(t.dtype == torch.float16 for t in stored.values())
    loaded = ibviewer.open_run(tmp_path).load_model(0).state_dict()
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == torch.float32
        torch.testing.assert_close(loaded[key], value, atol=1e-3, rtol=1e-3)
    # a float16 file is about half the float32 size
    rec.record(1, model, force=True)
    size16 = (tmp_path / "weights" / "epoch_000000.safetensors").stat().st_size
    size32 = (tmp_path / "weights" / "epoch_000001.safetensors").stat().st_size
    assert size16 < 0.6 * size32


def test_log_spaced_epochs_are_dense_early_and_sparse_late():
    epochs = log_spaced_epochs(10_000, 300)
    assert len(epochs) == 300
    assert epochs[0] == 0 and epochs[-1] == 10_000
    gaps = np.diff(epochs)
    assert (gaps > 0).all()
    assert gaps[:20].max() == 1  # every early epoch is kept
    assert gaps[-1] > 100  # late epochs are far apart
    # gaps grow (roughly geometric): each tenth of the list spans more epochs than the last
    spans = [epochs[i + 29] - epochs[i] for i in range(0, 270, 30)]
    assert all(b >= a for a, b in zip(spans, spans[1:]))
    assert log_spaced_epochs(5, 100) == [0, 1, 2, 3, 4, 5]
    assert log_spaced_epochs(1000, 2) == [0, 1000]
    for n_epochs, n_snapshots in [(7, 5), (50, 49), (3000, 17)]:
        got = log_spaced_epochs(n_epochs, n_snapshots)
        assert len(got) == n_snapshots and len(set(got)) == n_snapshots and got[-1] == n_epochs
    with pytest.raises(IBViewerError, match="n_snapshots"):
        log_spaced_epochs(10, 1)
    with pytest.raises(IBViewerError, match="n_epochs"):
        log_spaced_epochs(0, 10)


def test_schedules_decide_which_epochs_are_saved(tmp_path):
    model = mlp(SIZES)
    log = _recorder(tmp_path / "log", schedule="log", n_epochs=100, n_snapshots=10)
    chosen = [e for e in range(101) if log.should_record(e)]
    assert chosen == log_spaced_epochs(100, 10) == log.planned_epochs
    written = [e for e in range(101) if log.record(e, model)]
    assert written == chosen
    assert _manifest(tmp_path / "log")["epochs"][-1]["epoch"] == 100

    explicit = _recorder(tmp_path / "list", schedule=[0, 5, 7])
    assert [e for e in range(10) if explicit.should_record(e)] == [0, 5, 7]
    assert not explicit.record(3, model)
    assert explicit.record(3, model, force=True)
    assert explicit.epochs == (3,)
    assert _recorder(tmp_path / "every").should_record(12345)
    with pytest.raises(IBViewerError, match="n_epochs"):
        _recorder(tmp_path / "bad", schedule="log")
    with pytest.raises(IBViewerError, match="schedule"):
        _recorder(tmp_path / "bad", schedule="sometimes")


def test_interrupted_weights_write_keeps_earlier_snapshots(tmp_path, monkeypatch):
    model = mlp(SIZES)
    rec = _recorder(tmp_path)
    for epoch in range(2):
        _train_step(model, epoch)
        rec.record(epoch, model, {"loss": 1.0 - epoch})
    before = (tmp_path / "run.json").read_bytes()

    real_replace = os.replace

    def crash_on_weights(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError("disk full (simulated)")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_weights)
    _train_step(model, 2)
    with pytest.raises(OSError, match="simulated"):
        rec.record(2, model)
    monkeypatch.setattr(os, "replace", real_replace)

    assert (tmp_path / "run.json").read_bytes() == before  # the manifest was not touched
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "epoch_000000.safetensors",
        "epoch_000001.safetensors",
    ]  # no half-written or temporary file left behind
    assert rec.epochs == (0, 1)
    assert ibviewer.open_run(tmp_path).epochs == (0, 1)
    # the same recorder carries on after the failure
    rec.record(2, model)
    assert ibviewer.open_run(tmp_path).epochs == (0, 1, 2)


def test_interrupted_manifest_write_names_only_complete_files_and_resumes(tmp_path, monkeypatch):
    model = mlp(SIZES)
    rec = _recorder(tmp_path)
    rec.record(0, model)
    real_replace = os.replace

    def crash_on_manifest(src, dst):
        if str(dst).endswith("run.json"):
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C between the two renames
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_manifest)
    _train_step(model, 1)
    with pytest.raises(KeyboardInterrupt):
        rec.record(1, model)
    monkeypatch.setattr(os, "replace", real_replace)

    # the new weights file is complete but unnamed; the manifest still names epoch 0 only
    assert (tmp_path / "weights" / "epoch_000001.safetensors").exists()
    assert [e["epoch"] for e in _manifest(tmp_path)["epochs"]] == [0]
    assert ibviewer.open_run(tmp_path).epochs == (0,)
    # leftovers of a killed process: half-written temporary files
    (tmp_path / "weights" / ".epoch_000002.safetensors.x1.tmp").write_bytes(b"\x00" * 10)
    (tmp_path / ".run.json.x2.tmp").write_text('{"format": "ibviewer-ru')

    resumed = _recorder(tmp_path)
    assert resumed.epochs == (0,)
    assert resumed.last_epoch == 0
    leftovers = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert leftovers == ["epoch_000000.safetensors", "run.json"]  # temporaries and the unnamed file are gone
    resumed.record(1, model)
    run = ibviewer.open_run(tmp_path)
    assert run.epochs == (0, 1)
    assert torch.equal(run.load_model(1).state_dict()["net.0.weight"], model.state_dict()["net.0.weight"])


_CHILD = textwrap.dedent(
    """
    import sys, torch
    from ibviewer.core.recorder import Recorder
    from ibviewer.models import mlp
    torch.manual_seed(0)
    model = mlp([64, 256, 256, 10])  # big enough that a write takes a moment
    rec = Recorder(sys.argv[1], "ibviewer.models:mlp", {"sizes": [64, 256, 256, 10]}, "digits")
    epoch = rec.last_epoch + 1 if rec.last_epoch is not None else 0
    while True:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        rec.record(epoch, model, {"loss": 1.0 / (epoch + 1)})
        epoch += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_recorder_leaves_an_openable_run_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    log = tmp_path / "child.log"
    with open(log, "wb") as stderr:
        child = subprocess.Popen([sys.executable, str(script), str(run_dir)], stderr=stderr)
    try:
        deadline = time.monotonic() + 240  # only a guard against a hung child: a loaded machine may take minutes
        while time.monotonic() < deadline:
            manifest = run_dir / "run.json"
            if manifest.exists() and len(json.loads(manifest.read_text())["epochs"]) >= 5:
                break
            assert child.poll() is None, log.read_text()
            time.sleep(0.02)
        else:
            pytest.fail("the child recorder did not save 5 snapshots in 240 s")
        child.send_signal(signal.SIGKILL)  # at an arbitrary point of its write loop
    finally:
        child.wait(timeout=30)

    named = _manifest(run_dir)["epochs"]
    assert len(named) >= 5
    run = ibviewer.open_run(run_dir)
    for entry in named:
        weights = run.load_model(entry["epoch"]).state_dict()["net.0.weight"]
        # every named file is complete and holds its own epoch's weights (+0.01 per epoch)
        assert torch.isfinite(weights).all()
    first, last = named[0]["epoch"], named[-1]["epoch"]
    delta = run.load_model(last).state_dict()["net.0.bias"] - run.load_model(first).state_dict()["net.0.bias"]
    torch.testing.assert_close(delta, torch.full_like(delta, 0.01 * (last - first)), atol=1e-4, rtol=0)

    resumed = Recorder(run_dir, "ibviewer.models:mlp", {"sizes": [64, 256, 256, 10]}, "digits")
    assert resumed.epochs == tuple(e["epoch"] for e in named)
    assert not list(run_dir.rglob("*.tmp"))
    resumed.record(last + 1, mlp([64, 256, 256, 10]))
    assert ibviewer.open_run(run_dir).epochs[-1] == last + 1


def test_refuses_to_overwrite_a_different_run(tmp_path):
    model = mlp(SIZES)
    rec = _recorder(tmp_path, test_indices=np.arange(5))
    rec.record(0, model)
    original = (tmp_path / "run.json").read_text()

    with pytest.raises(RunFormatError, match="different run.*model factory"):
        Recorder(tmp_path, "mymodels:Net", KWARGS, "digits")
    with pytest.raises(RunFormatError, match="different run.*dataset"):
        Recorder(tmp_path, FACTORY, KWARGS, "ib12")
    with pytest.raises(RunFormatError, match="different run.*model kwargs"):
        Recorder(tmp_path, FACTORY, {"sizes": [64, 10]}, "digits")
    with pytest.raises(RunFormatError, match="test split"):
        _recorder(tmp_path, test_indices=np.arange(6))
    assert (tmp_path / "run.json").read_text() == original  # nothing was touched
    assert (tmp_path / "weights" / "epoch_000000.safetensors").exists()

    # the same run is continued, keeping its snapshots
    assert _recorder(tmp_path).epochs == (0,)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "run.json").write_text('{"name": "someone else\'s file"}')
    with pytest.raises(RunFormatError, match="not an ibviewer run manifest"):
        _recorder(foreign)
    assert (foreign / "run.json").read_text() == '{"name": "someone else\'s file"}'

    orphans = tmp_path / "orphans"
    (orphans / "weights").mkdir(parents=True)
    (orphans / "weights" / "epoch_000003.safetensors").write_bytes(b"weights from somewhere")
    with pytest.raises(RunFormatError, match="no run.json"):
        _recorder(orphans)

    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "run.json").write_text(json.dumps({"format": "ibviewer-run", "version": 99, "epochs": []}))
    with pytest.raises(RunFormatError, match="Upgrade ibviewer"):
        _recorder(newer)


def test_restart_drops_snapshots_and_going_back_warns(tmp_path):
    model = mlp(SIZES)
    rec = _recorder(tmp_path)
    for epoch in range(4):
        rec.record(epoch, model)
    with pytest.warns(UserWarning, match=r"later snapshots \[2, 3\] are dropped"):
        rec.record(2, model)
    assert rec.epochs == (0, 1, 2)
    assert not (tmp_path / "weights" / "epoch_000003.safetensors").exists()

    restarted = _recorder(tmp_path, restart=True)
    assert restarted.epochs == ()
    assert _manifest(tmp_path)["epochs"] == []
    assert not list((tmp_path / "weights").iterdir())


def test_bad_inputs_raise_clear_errors(tmp_path):
    model = mlp(SIZES)
    rec = _recorder(tmp_path)
    with pytest.raises(IBViewerError, match="must be a number"):
        rec.record(0, model, {"loss": "low"})
    with pytest.raises(IBViewerError, match="epoch must be >= 0"):
        rec.record(-1, model)
    with pytest.warns(UserWarning, match="'loss' is nan"):
        rec.record(0, model, {"loss": float("nan"), "train_acc": 0.5})
    assert _manifest(tmp_path)["epochs"][0]["metrics"] == {"train_acc": 0.5}
    with pytest.raises(ModelMismatchError, match="differ from the run's earlier snapshots"):
        rec.record(1, mlp([64, 10]))
    with pytest.raises(IBViewerError, match="module:callable"):
        Recorder(tmp_path / "x", "no_colon", {}, "digits")
    with pytest.raises(IBViewerError, match="JSON"):
        Recorder(tmp_path / "x", FACTORY, {"sizes": object()}, "digits")
    with pytest.raises(IBViewerError, match="dataset is required"):
        Recorder(tmp_path / "x", FACTORY, KWARGS)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(RunFormatError, match="is a file"):
        Recorder(a_file, FACTORY, KWARGS, "digits")
