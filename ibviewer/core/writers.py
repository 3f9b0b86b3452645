"""The data files ibviewer writes, one format each, for the command line and the GUI alike.

``ibviewer analyze`` and the GUI's File > Export Data call these same functions, so the
same run and settings give byte-identical files (a test checks it). Every write is
atomic: a crash never leaves half a file or destroys the previous one.

Formats (documented in docs/outputs.md):

- ``embeddings.csv``: one row per (epoch, layer, sample): ``epoch, layer, method, index,
  label, label_name, x, y[, z]``; ``index`` is the dataset index; coordinates are written
  with ``repr`` (shortest text that reads back to the same float).
- ``neighbors.csv``: one row per (layer, rank): ``epoch, metric, query_index, query_name,
  query_layer, layer, rank, index, name, label, label_name, distance``.
- ``infoplane.csv`` and ``probes.csv``: see `write_infoplane_csv` and `write_probes_csv`
  (re-exported here).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import atomic_write_text
from ibviewer.core.information import write_infoplane_csv
from ibviewer.core.naming import SampleNames
from ibviewer.core.neighbors import Neighborhood
from ibviewer.core.probes import write_probes_csv
from ibviewer.core.types import ActivationSet
from ibviewer.errors import IBViewerError

__all__ = [
    "EMBEDDING_COLUMNS",
    "NEIGHBOR_COLUMNS",
    "embedding_rows",
    "neighbor_rows",
    "write_csv",
    "write_embeddings_csv",
    "write_neighbors_csv",
    "write_infoplane_csv",
    "write_probes_csv",
]

EMBEDDING_COLUMNS = ("epoch", "layer", "method", "index", "label", "label_name")
NEIGHBOR_COLUMNS = (
    "epoch", "metric", "query_index", "query_name", "query_layer", "layer", "rank", "index", "name", "label",
    "label_name", "distance",
)  # fmt: skip
AXES = ("x", "y", "z")


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a header and rows as CSV (``\\n`` line ends), atomically; returns the path."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    try:
        atomic_write_text(path, buffer.getvalue())
    except OSError as exc:
        raise IBViewerError(f"Could not write {path} ({exc.strerror or exc}); choose a writable folder.") from exc
    return path


def embedding_rows(embeddings: Iterable[Any], acts: ActivationSet, names: SampleNames) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the embeddings table for ``embeddings`` (LayerEmbedding objects, in the order given)."""
    embeddings = list(embeddings)
    if not embeddings:
        raise IBViewerError("No embeddings to write yet: wait until the layer panels are computed.")
    dims = max(int(np.asarray(e.coords).shape[1]) for e in embeddings)
    labels = np.asarray(acts.labels)
    class_names = names.class_names()
    rows: list[list[Any]] = []
    for embedding in embeddings:
        coords = np.asarray(embedding.coords)
        if coords.shape[0] != acts.n_samples:
            raise IBViewerError(
                f"The embedding of {embedding.layer} has {coords.shape[0]} points for {acts.n_samples} samples; "
                "wait until it is complete."
            )
        for row in range(coords.shape[0]):
            label = int(labels[row])
            rows.append(
                [
                    int(embedding.epoch),
                    embedding.layer,
                    embedding.method,
                    int(acts.sample_idx[row]),
                    label,
                    class_names[label] if 0 <= label < len(class_names) else str(label),
                    *(repr(float(v)) for v in coords[row]),
                ]
            )
    return [*EMBEDDING_COLUMNS, *AXES[:dims]], rows


def write_embeddings_csv(
    path: str | Path, embeddings: Iterable[Any], acts: ActivationSet, names: SampleNames | None = None
) -> Path:
    """Write ``embeddings.csv`` (see the module docstring) for the given per-layer embeddings."""
    columns, rows = embedding_rows(embeddings, acts, names or SampleNames(acts))
    return write_csv(path, columns, rows)


def neighbor_rows(neighbors: Neighborhood, acts: ActivationSet, names: SampleNames) -> list[list[Any]]:
    """Rows of the neighbours table: every searched layer, nearest first."""
    labels = np.asarray(acts.labels)
    query_index = int(acts.sample_idx[neighbors.row])
    query_name = names.sample_name(neighbors.row)
    rows = []
    for layer in neighbors.layers:
        for rank, (row, distance) in enumerate(zip(neighbors.indices[layer], neighbors.distances[layer]), start=1):
            label = int(labels[int(row)])
            rows.append(
                [
                    int(neighbors.epoch), neighbors.metric, query_index, query_name, neighbors.layer, layer, rank,
                    int(acts.sample_idx[int(row)]), names.sample_name(int(row)), label, names.class_name(label),
                    repr(float(distance)),
                ]
            )  # fmt: skip
    return rows


def write_neighbors_csv(
    path: str | Path, neighbors: Neighborhood, acts: ActivationSet, names: SampleNames | None = None
) -> Path:
    """Write ``neighbors.csv`` (see the module docstring) for one sample's neighbourhood."""
    return write_csv(path, NEIGHBOR_COLUMNS, neighbor_rows(neighbors, acts, names or SampleNames(acts)))
