"""PyTorch Lightning roots, version folders and the ``Callback``, written by the real library."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

pl = pytest.importorskip("pytorch_lightning")

import torch  # noqa: E402

from ibviewer.core.activations import ExtractOptions  # noqa: E402
from ibviewer.core.run import LiveRun, lightning_versions, open_run, survey  # noqa: E402
from ibviewer.errors import IBViewerError, RunFormatError  # noqa: E402
from ibviewer.integrations.lightning import IBViewerCallback  # noqa: E402

from .conftest import quiet_training  # noqa: E402

pytestmark = pytest.mark.slow

LIT_SOURCE = '''
import torch
from torch import nn
import pytorch_lightning as pl


class LitMLP(pl.LightningModule):
    def __init__(self, hidden=16):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def inner(hidden=16):
    return LitMLP(hidden).net
'''


@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory):
    """Two fits of 2 epochs under one root (version_0 with an ibviewer callback, then version_1)."""
    root = tmp_path_factory.mktemp("lightning")
    module_file = root / "lit.py"
    module_file.write_text(LIT_SOURCE)
    spec = importlib.util.spec_from_file_location("lit_for_test", module_file)
    lit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lit)
    from sklearn.datasets import load_digits

    digits = load_digits()
    data = torch.utils.data.TensorDataset(torch.tensor(digits.data / 16, dtype=torch.float32), torch.tensor(digits.target))
    loader = torch.utils.data.DataLoader(data, batch_size=512)
    for version in range(2):
        torch.manual_seed(version)
        callbacks = [pl.callbacks.ModelCheckpoint(save_top_k=-1)]
        if version == 0:
            callbacks.append(IBViewerCallback(root / "recorded", f"{module_file}:LitMLP", "digits", {"hidden": 16}))
            callbacks.append(IBViewerCallback(root / "inner", f"{module_file}:inner", "digits", module="net"))
        trainer = pl.Trainer(
            default_root_dir=root, max_epochs=2, callbacks=callbacks, logger=pl.loggers.CSVLogger(root),
            enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1, accelerator="cpu",
        )  # fmt: skip
        with quiet_training():
            trainer.fit(lit.LitMLP(16), loader, loader)
    return root, f"{module_file}:LitMLP", lit


def _reference(lit, ckpt: Path) -> np.ndarray:
    """The hidden Tanh layer as Lightning itself loads the checkpoint."""
    from sklearn.datasets import load_digits

    with quiet_training():
        model = lit.LitMLP.load_from_checkpoint(ckpt, map_location="cpu").eval()
    with torch.no_grad():
        return model.net[:2](torch.tensor(load_digits().data / 16, dtype=torch.float32)).numpy()


def test_the_root_opens_the_newest_version_and_names_the_others(lightning_run):
    root, spec, lit = lightning_run
    assert [v.name for v in lightning_versions(root)] == ["version_1", "version_0"]
    with pytest.warns(UserWarning, match=r"opened lightning_logs/version_1, the newest.*lightning_logs/version_0"):
        run = open_run(root, model=spec, dataset="digits")
    assert run.kind == "lightning" and run.epochs == (0, 1) and run.source.epoch_unit == "epoch"
    assert run.source.hparams == {"hidden": 16}
    assert {"train_loss_epoch", "val_acc"} <= set(run.metrics[1])
    assert [layer.name for layer in run.layers] == ["net.1"]
    acts = run.activations()
    ckpt = root / "lightning_logs" / "version_1" / "checkpoints" / "epoch=1-step=8.ckpt"
    np.testing.assert_allclose(acts.layer("net.1", 1), _reference(lit, ckpt), atol=1e-6)


def test_a_version_folder_and_its_checkpoints_folder_open_that_version(lightning_run):
    root, spec, _ = lightning_run
    version = root / "lightning_logs" / "version_0"
    run = open_run(version, model=spec, dataset="digits")
    assert run.epochs == (0, 1) and run.path == version
    from_checkpoints = open_run(version / "checkpoints", model=spec, dataset="digits")
    assert from_checkpoints.kind == "lightning" and from_checkpoints.metrics == run.metrics  # metrics.csv beside it
    epoch_metrics = run.metrics[0]
    assert 0.0 < epoch_metrics["val_acc"] <= 1.0 and epoch_metrics["train_loss_epoch"] > 0
    found = survey(root)
    assert found.kind == "Lightning run" and found.needs_model and found.choices[0].name == "version_1"


def test_lightning_checkpoints_need_a_model(lightning_run):
    root, _, _ = lightning_run
    with pytest.raises(IBViewerError, match="--model"):
        open_run(root / "lightning_logs" / "version_0", dataset="digits")


def test_the_callback_runs_open_with_the_users_factory_and_match_the_checkpoints(lightning_run):
    root, spec, lit = lightning_run
    # the run names the user's own module (outside ibviewer.models, outside the run folder): never run unasked
    with pytest.raises(RunFormatError, match="outside the run folder"):
        open_run(root / "recorded")
    recorded = open_run(root / "recorded", model=spec)  # naming the factory is consenting to it
    assert recorded.epochs == (0, 1, 2)  # epoch 0: before training; epoch E: after E epochs
    assert {"train_loss_epoch", "val_acc"} <= set(recorded.metrics[2])
    acts = recorded.activations()
    ckpt = root / "lightning_logs" / "version_0" / "checkpoints" / "epoch=1-step=8.ckpt"  # Lightning counts from 0
    np.testing.assert_allclose(acts.layer("net.1", 2), _reference(lit, ckpt), atol=1e-6)
    inner = open_run(root / "inner", model=spec.replace(":LitMLP", ":inner")).activations()
    np.testing.assert_allclose(inner.layer("1", 2), acts.layer("net.1", 2), atol=1e-6)


def test_a_version_folder_that_gains_checkpoints_is_followed(lightning_run, tmp_path):
    root, spec, _ = lightning_run
    source = root / "lightning_logs" / "version_0"
    version = tmp_path / "version_0"
    (version / "checkpoints").mkdir(parents=True)
    shutil.copy(source / "metrics.csv", version)
    shutil.copy(source / "checkpoints" / "epoch=0-step=4.ckpt", version / "checkpoints")
    run = open_run(version, model=spec, dataset="digits")
    acts = run.activations(ExtractOptions(max_samples=300))
    live = LiveRun(run)
    assert live.watched_paths() == (version / "checkpoints",)
    shutil.copy(source / "checkpoints" / "epoch=1-step=8.ckpt", version / "checkpoints")
    changes = live.rescan()
    assert [e.epoch for e in changes.added] == [1] and "val_acc" in changes.added[0].metrics
    grown = live.extend(acts, changes)
    full = open_run(source, model=spec, dataset="digits").activations(ExtractOptions(max_samples=300), use_cache=False)
    np.testing.assert_allclose(grown.values["net.1"], full.values["net.1"], atol=1e-6)
