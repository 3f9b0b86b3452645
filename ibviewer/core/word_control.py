"""The control of the word experiment: how much of its grouping is there by construction.

The experiment's groups are each query word's nearest words in one layer, so in that layer
they are close by construction, and even an untrained network groups them there. What
speaks for training is the share measured in the *other* layers, and the difference to the
same experiment run through the first saved (untrained) network. :func:`group_share` is
that share: for every selected word, the fraction of its ``k`` nearest selected words (in a
layer's own space) that belong to its group; :class:`WordControl` holds it per layer for
the trained network and for the control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibviewer.core.neighbors import Metric, NeighborIndex, exact_knn
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.types import ActivationSet, IntArray

__all__ = ["WordControl", "choose_groups", "group_share", "chance_share", "word_control", "write_word_shares_csv", "SHARE_K"]

WORD_SHARE_COLUMNS = ("layer", "chosen", "share", "control_share", "chance", "control_chance", "k", "epoch", "control_epoch")

#: nearest selected words per word in the share
SHARE_K = 10


@dataclass(frozen=True, eq=False)
class WordControl:
    """Same-group neighbour share per layer, trained network beside the untrained control.

    Attributes
    ----------
    layers : tuple of str
    chosen_layer : str
        Where the groups were chosen: the share there is high by construction.
    k : int
        Nearest selected words counted per word.
    epoch, control_epoch : int
        The trained epoch and the control's (the first saved epoch).
    share, control_share : ndarray of float64
        (n_layers,) mean share of a selected word's ``k`` nearest selected words in its group.
    chance, control_chance : float
        The share of ``k`` random picks among the selected words.
    """

    layers: tuple[str, ...]
    chosen_layer: str
    k: int
    epoch: int
    control_epoch: int
    share: np.ndarray
    control_share: np.ndarray
    chance: float
    control_chance: float

    def rows(self) -> list[dict[str, object]]:
        """One dict per layer: layer, chosen (bool), share, control_share."""
        return [
            {"layer": layer, "chosen": layer == self.chosen_layer, "share": float(self.share[j]),
             "control_share": float(self.control_share[j])}
            for j, layer in enumerate(self.layers)
        ]  # fmt: skip

    def summary(self) -> str:
        """Plain text: the shares per layer, trained vs control, and how to read them."""
        cells = ", ".join(
            f"{layer}{' (groups chosen here)' if layer == self.chosen_layer else ''} "
            f"{self.share[j]:.2f} vs {self.control_share[j]:.2f}"
            for j, layer in enumerate(self.layers)
        )
        return (
            f"same-group share of the {self.k} nearest words, epoch {self.epoch} vs untrained epoch "
            f"{self.control_epoch} (groups chosen the same way in each): {cells}; chance {self.chance:.3f}. "
            f"Only a share above the control, in a layer other than {self.chosen_layer}, is owed to training."
        )


def choose_groups(
    acts: ActivationSet, query_rows: Sequence[int], layer: str, epoch: int, k: int, metric: Metric,
    progress: Progress = NULL_PROGRESS,
) -> tuple[IntArray, IntArray]:  # fmt: skip
    """Each query's ``k`` nearest rows in ``layer`` at ``epoch``: (selected rows, group of each).

    Queries come first, in order, then neighbours in order of first appearance; a row among
    several queries' neighbours goes to the query it is nearest to.
    """
    index = NeighborIndex(acts.layer(layer, epoch), metric)
    best_group: dict[int, tuple[float, int]] = {row: (-np.inf, g) for g, row in enumerate(query_rows)}
    order = list(query_rows)
    for g, row in enumerate(query_rows):
        progress.check_cancelled()
        idx, dist = index.query(row, k)
        for neighbour, d in zip(idx.tolist(), dist.tolist()):
            if neighbour not in best_group:
                order.append(neighbour)
                best_group[neighbour] = (d, g)
            elif d < best_group[neighbour][0]:
                best_group[neighbour] = (d, g)
    return np.asarray(order, dtype=np.int64), np.array([best_group[row][1] for row in order], dtype=np.int64)


def group_share(vectors: np.ndarray, groups: IntArray, k: int = SHARE_K, metric: Metric = "cosine") -> float:
    """Mean share of each point's ``k`` nearest points (among ``vectors``) that are in its group."""
    k = min(k, len(groups) - 1)
    if k < 1:
        return float("nan")
    neighbours, _ = exact_knn(np.asarray(vectors, dtype=np.float64), k, metric=metric)
    return float((groups[neighbours] == groups[:, None]).mean())


def chance_share(groups: IntArray) -> float:
    """The expected share of random picks: the chance that another selected word is in one's group."""
    n = len(groups)
    counts = np.bincount(groups).astype(np.float64)
    return float((counts * (counts - 1)).sum() / (n * (n - 1))) if n > 1 else float("nan")


def word_control(
    acts: ActivationSet, query_rows: Sequence[int], selected: IntArray, groups: IntArray, layer: str, epoch: int,
    k_synonyms: int, metric: Metric, *, k: int = SHARE_K, progress: Progress = NULL_PROGRESS,
) -> WordControl | None:  # fmt: skip
    """The shares of the experiment (``selected``, ``groups`` chosen in ``layer`` at ``epoch``) and of its control.

    The control repeats the choice of groups in the first saved epoch's network and measures
    it the same way. None when ``epoch`` is the only or the first saved epoch (no untrained network).
    """
    control_epoch = acts.epochs[0]
    if control_epoch == epoch:
        return None
    control_selected, control_groups = choose_groups(acts, query_rows, layer, control_epoch, k_synonyms, metric, progress)

    def shares(rows: IntArray, labels: IntArray, at: int) -> np.ndarray:
        return np.array([group_share(acts.layer(name, at)[rows], labels, k, metric) for name in acts.layer_names])

    return WordControl(
        layers=acts.layer_names, chosen_layer=layer, k=min(k, len(groups) - 1), epoch=int(epoch),
        control_epoch=int(control_epoch), share=shares(selected, groups, epoch),
        control_share=shares(control_selected, control_groups, control_epoch), chance=chance_share(groups),
        control_chance=chance_share(control_groups),
    )  # fmt: skip


def write_word_shares_csv(control: WordControl, path: str | Path) -> Path:
    """Write ``words.csv``: one row per layer (`WORD_SHARE_COLUMNS`), atomically; returns the path."""
    from ibviewer.core.writers import write_csv

    rows = [
        [row["layer"], int(bool(row["chosen"])), f"{row['share']:.6f}", f"{row['control_share']:.6f}",
         f"{control.chance:.6f}", f"{control.control_chance:.6f}", control.k, control.epoch, control.control_epoch]
        for row in control.rows()
    ]  # fmt: skip
    return write_csv(path, WORD_SHARE_COLUMNS, rows)
