"""Sample ``digits_relu``: the ReLU twin of ``digits_mlp`` (same data, sizes, training and seed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.samples import digits_mlp
from ibviewer.samples._common import train_classifier

NAME = "digits_relu"
TITLE = "MLP 64-64-32-16-10 (ReLU) on the 8x8 digits"
SAMPLE = replace(digits_mlp.SAMPLE, name=NAME, activation="relu")
DEFAULT_EPOCHS = SAMPLE.epochs


def train(out_dir: str | Path, epochs: int | None = None, seed: int = 0, progress: Progress = NULL_PROGRESS) -> Path:
    """Train ``digits_relu`` from scratch into ``out_dir`` and write its model card.

    Same parameters and result as :func:`ibviewer.samples.digits_mlp.train`.
    """
    return train_classifier(
        SAMPLE, out_dir, epochs, seed, progress, write_card=lambda p, s: digits_mlp.write_card(SAMPLE, p, s)
    )
