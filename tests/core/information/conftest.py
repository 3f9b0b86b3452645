"""Fixtures of the information tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core.information.data import all_12_bit_inputs


@pytest.fixture(scope="module")
def bits() -> np.ndarray:
    """All 4096 12-bit inputs as 0/1 float32, bit 0 first."""
    return all_12_bit_inputs()
