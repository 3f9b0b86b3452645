"""Runs written by the real training libraries, in the test, on a tiny model for a few CPU steps.

The libraries come with the ``test`` extra; where they are missing these tests skip.
Training warnings (dataloader workers, deprecations inside the libraries) are not what is
tested and are silenced while training only.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest


@contextmanager
def quiet_training() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Poison:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def poison(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(Poison(marker)))


@pytest.fixture(scope="module")
def tokens_npz(tmp_path_factory) -> Path:
    """32 token sequences of length 8 with right padding, labels, and their attention mask."""
    rng = np.random.default_rng(0)
    x = rng.integers(3, 50, size=(32, 8))
    lengths = rng.integers(3, 9, size=32)
    mask = (np.arange(8)[None, :] < lengths[:, None]).astype(np.int64)
    x = x * mask
    y = (x[:, 0] > 25).astype(np.int64)
    path = tmp_path_factory.mktemp("data") / "tokens.npz"
    np.savez(path, x=x, y=y, attention_mask=mask)
    return path
