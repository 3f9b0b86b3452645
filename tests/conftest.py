"""Shared fixtures: a small MLP and synthetic data built in memory; nothing is downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest

# Qt aborts the whole run when no display exists and no platform is set; pytest-xvfb
# normally provides a display. Fall back to offscreen only when there is none, so that
# OpenGL tests can still run under Xvfb with xcb.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder: no test reads another's cached results."""
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
