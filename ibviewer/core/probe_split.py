"""Which captured samples the layer probes train on and which they are scored on, and the spread of a score.

The network was trained on some samples; a probe scored on those measures memorisation
as much as what a layer encodes. So the probes train on the run's training samples and
are scored on its held-out ones (a run's ``split.npz``, an archive's ``test_indices``,
carried as `ActivationSet.test_indices`). With no split at all, a seeded, stratified
held-out part is drawn, and the result says so. Scores come with a paired bootstrap
interval over the held-out samples (the same resamples for every layer and epoch, so
differences between layers are compared on the same draws).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ibviewer.core.types import IntArray

__all__ = ["ProbeSplit", "probe_split", "bootstrap_draws", "interval", "TEST_FRACTION", "N_BOOTSTRAP", "LEVEL"]

#: held-out share of a seeded split (when the run has none)
TEST_FRACTION = 0.2
#: bootstrap resamples of the held-out samples
N_BOOTSTRAP = 200
#: two-sided level of the intervals
LEVEL = 0.95

SplitKind = Literal["run", "seeded"]


@dataclass(frozen=True)
class ProbeSplit:
    """Rows (into the probed rows) to train on and to score on.

    ``kind`` is ``"run"`` when the run's own held-out samples are used, ``"seeded"`` when a
    held-out part was drawn here (``test_fraction``, seeded) because the run has none, or
    too few of them among the captured samples.
    """

    train: IntArray
    test: IntArray
    kind: SplitKind
    test_fraction: float

    def describe(self) -> str:
        """One line for titles and notes: where the held-out samples come from and how many."""
        if self.kind == "run":
            return f"trained on {len(self.train)} training samples, scored on the run's {len(self.test)} held-out samples"
        return (
            f"no held-out split in the run: trained on {len(self.train)}, scored on a seeded held-out "
            f"{100 * self.test_fraction:g}% ({len(self.test)} samples)"
        )


def probe_split(
    labels: IntArray, dataset_idx: IntArray, test_indices: IntArray | None, seed: int, test_fraction: float = TEST_FRACTION
) -> ProbeSplit:
    """Train and held-out rows of the probed samples.

    Parameters
    ----------
    labels : ndarray of int
        (n,) labels of the probed samples.
    dataset_idx : ndarray of int
        (n,) their dataset indices (what ``test_indices`` names).
    test_indices : ndarray of int or None
        The run's held-out dataset indices.
    seed : int
        Seeds the held-out part drawn when the run's split cannot be used.
    test_fraction : float
        Its share.
    """
    if test_indices is not None:
        held_out = np.isin(dataset_idx, test_indices)
        train, test = np.flatnonzero(~held_out), np.flatnonzero(held_out)
        if len(test) >= 2 and len(np.unique(labels[train])) >= 2:
            return ProbeSplit(train, test, "run", float(len(test) / len(labels)))
        warnings.warn(
            f"only {len(test)} of the {len(labels)} probed samples are held out by the run's split: probes are "
            f"scored on a seeded held-out {100 * test_fraction:g}% instead.",
            stacklevel=3,
        )
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    train, test = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=labels)
    return ProbeSplit(np.sort(train), np.sort(test), "seeded", float(test_fraction))


def bootstrap_draws(n_test: int, seed: int, n_boot: int = N_BOOTSTRAP) -> IntArray:
    """(n_boot, n_test) resampled held-out rows, seeded: the same for every layer and epoch."""
    return np.random.default_rng([seed, n_test]).integers(0, n_test, size=(n_boot, n_test))


def interval(values: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """The central ``level`` percentile interval of bootstrap ``values`` along the first axis, (..., 2)."""
    tail = 100 * (1 - level) / 2
    return np.moveaxis(np.percentile(values, [tail, 100 - tail], axis=0), 0, -1)
