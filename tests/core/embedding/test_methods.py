"""The registry of methods: one entry per choice in config, and every entry keeps the method contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ibviewer.core.config import METHODS
from ibviewer.core.embedding import METHOD_REGISTRY
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.progress import RecordingProgress
from tests.core.embedding.data import blobs

SMALL_PARAMS = {"tsne": {"n_iter": 20, "early_exaggeration_iter": 10, "perplexity": 5.0}, "umap": {"n_epochs": 20}}


def test_the_registry_and_the_choices_in_config_agree():
    assert list(METHOD_REGISTRY) == list(METHODS)


@pytest.mark.parametrize("name", list(METHOD_REGISTRY))
def test_every_method_embeds_the_subset_and_places_the_rest(name, request):
    if name == "umap":
        request.getfixturevalue("umap_compiled")
    entry = METHOD_REGISTRY[name]
    x, _ = blobs(n=60, dim=6)
    embedded_idx = np.arange(0, 60, 2, dtype=np.int64) if not entry.linear else np.arange(60, dtype=np.int64)
    params = entry.resolved_params(SMALL_PARAMS.get(name, {}))
    coords = entry.run(MethodInput(x, embedded_idx, 2, 0, params), RecordingProgress())
    assert coords.shape == (60, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert np.ptp(coords[1::2], axis=0).min() > 0  # the rows not embedded directly are placed too
    assert set(params) == set(entry.resolved_params({}))  # adapted values replace, nothing is added


def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import sys, ibviewer.core.embedding\n"
        "heavy = sorted(m for m in ('openTSNE', 'umap', 'sklearn', 'numba', 'torch') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
