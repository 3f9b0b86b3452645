"""Fixtures for opening runs: the factory module of ``model_file`` loaded as a module."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture
def net(model_file):
    """The module defined by ``model_file`` (``make``, ``SeqNet``, ``ConvNet``)."""
    spec = importlib.util.spec_from_file_location("net_for_test", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
