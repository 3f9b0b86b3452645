"""Shared fixtures: a small MLP and synthetic data built in memory; nothing is downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Qt aborts the whole run when no display exists and no platform is set.

    pytest-xvfb starts a virtual display in its own ``pytest_configure`` (this hook runs
    after it); only when there is still no display do we fall back to offscreen, so that
    the OpenGL (3D) tests run under Xvfb with xcb whenever they can. With pytest-xdist
    (``make test`` runs two workers) each worker starts its own display.
    """
    xdist_controller = config.getoption("dist", "no") != "no" and not os.environ.get("PYTEST_XDIST_WORKER")
    if xdist_controller:
        return  # runs no test; its workers (which inherit its environment) start their own Xvfb
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder: no test reads another's cached results."""
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


MODEL_SOURCE = '''
import torch
from torch import nn


def make(n_in=12, hidden=(8, 6), n_out=2):
    layers = []
    sizes = [n_in, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    layers.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*layers)


def not_a_module():
    return 42


class SeqNet(nn.Module):
    """Token ids -> embedding -> LSTM -> linear: tuple and sequence outputs."""

    def __init__(self, vocab=20, dim=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, 5, batch_first=True)
        self.act = nn.Tanh()
        self.out = nn.Linear(5, 3)

    def forward(self, tokens):
        h, _ = self.lstm(self.embed(tokens))
        return self.out(self.act(h[:, -1]))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(3 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(self.flat(self.relu(self.conv(x))))
'''


@pytest.fixture
def model_file(tmp_path):
    """A .py file defining model factories; returns its path."""
    path = tmp_path / "net.py"
    path.write_text(MODEL_SOURCE)
    return path


@pytest.fixture
def ib12_checkpoints(tmp_path, model_file):
    """A folder of three tutorial-layout checkpoints of a 12-8-6-2 tanh MLP (epochs 1, 5, 20)."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("conftest_net", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path / "ckpts"
    folder.mkdir()
    torch.manual_seed(0)
    for epoch in (20, 1, 5):
        model = module.make()
        torch.save({"epoch": epoch, "model_state_dict": model.state_dict(), "loss": 1.0 / epoch}, folder / f"e{epoch:03d}.pt")
    return folder, f"{model_file}:make"
