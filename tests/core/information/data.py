"""Data the information tests share: 12-bit inputs and their parities, layered activations."""

from __future__ import annotations

import math

import numpy as np

from ibviewer.core.types import ActivationSet, LayerInfo


def all_12_bit_inputs() -> np.ndarray:
    """All 4096 12-bit inputs as 0/1 float32, bit 0 first."""
    codes = np.arange(4096)
    return ((codes[:, None] >> np.arange(12)) & 1).astype(np.float32)


def parity(columns: np.ndarray) -> np.ndarray:
    return (columns.sum(axis=1) % 2).astype(np.int64)

def binomial_entropy(n: int) -> float:
    p = np.array([math.comb(n, k) for k in range(n + 1)], dtype=np.float64) / 2**n
    return float(-(p * np.log2(p)).sum())

def levels_and_labels(rng, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """400 samples of units taking 3 values (many repeated rows) and 3 classes that depend on t."""
    t = rng.choice(np.array([-0.8, 0.1, 0.7]), size=(400, n_units))
    y = (t[:, 0] > 0).astype(np.int64) + (t[:, 1] > 0.5)
    return t, y

def make_acts(
    rng, n_samples=300, epochs=(0, 1, 5, 20), widths=(4, 3, 2), relu=False, coarse=True
) -> ActivationSet:
    """Random activations; ``coarse`` rounds them to steps of 0.5 so rows repeat (no saturation)."""
    values = {}
    for k, width in enumerate(widths):
        raw = rng.normal(size=(len(epochs), n_samples, width)) * (1 + np.arange(len(epochs)))[:, None, None] * 0.5
        layer = np.maximum(raw, 0) if relu else np.tanh(raw)
        values[f"h{k}"] = (np.round(layer * 2) / 2 if coarse else layer).astype(np.float32)
    layers = tuple(LayerInfo(f"h{k}", "Tanh", (w,), w) for k, w in enumerate(widths))
    labels = rng.integers(0, 3, n_samples)
    return ActivationSet(layers, tuple(epochs), values, labels, np.arange(n_samples), key=f"test-{relu}-{n_samples}")
