"""Fixtures of the embedding tests: one UMAP compilation shared by every test that fits UMAP."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def umap_compiled() -> None:
    """Compile umap-learn's numba code once per test session (~10-40 s); later fits take well under a second.

    Every test that fits UMAP asks for this, so whichever runs first pays the compilation
    and the others only their own work.
    """
    from ibviewer.core.embedding import warm_up_umap

    warm_up_umap(background=False)
