"""How the samples and classes of an activation set are named: words, ``#index`` and class names.

One place for the names every front end shows and writes (neighbour lists, CSV files,
legends), so the GUI and the command line always agree.
"""

from __future__ import annotations

import numpy as np

from ibviewer.core.types import ActivationSet, Dataset

__all__ = ["SampleNames", "printable"]


def printable(text: object) -> str:
    """``text`` with control characters escaped: names read from files must not move a terminal's cursor.

    ``"a\\x1b[2Jb"`` (an ANSI escape) is shown as ``a\\x1b[2Jb``; printable text is unchanged.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class SampleNames:
    """Names of the samples (rows) and classes of ``acts``, from the dataset when there is one.

    Parameters
    ----------
    acts : ActivationSet
    dataset : Dataset, optional
        The run's dataset; its words and class names win over the activation set's own.
    """

    def __init__(self, acts: ActivationSet, dataset: Dataset | None = None) -> None:
        self.acts = acts
        self.dataset = dataset

    def class_names(self) -> list[str]:
        """Names of the classes present in the labels (index = label)."""
        labels = np.asarray(self.acts.labels)
        n_classes = int(labels.max()) + 1 if labels.size else 0
        dataset = self.dataset
        if dataset is not None and dataset.label_names is not None:
            n_classes = max(n_classes, len(dataset.label_names))
            return [dataset.class_name(i) for i in range(n_classes)]
        names = getattr(self.acts, "label_names", None)
        if names:
            return [str(names[i]) if i < len(names) else str(i) for i in range(n_classes)]
        return [str(i) for i in range(n_classes)]

    def class_name(self, label: int) -> str:
        names = self.class_names()
        return names[label] if 0 <= label < len(names) else str(label)

    def sample_name(self, row: int) -> str:
        """The word of a text sample, else ``#<dataset index>``."""
        index = int(self.acts.sample_idx[row])
        if self.dataset is not None:
            return self.dataset.sample_name(index)
        words = getattr(self.acts, "words", None)
        return str(words[row]) if words is not None else f"#{index}"
