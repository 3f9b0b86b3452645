"""The data files ibviewer writes, one format each, for the command line and the GUI alike.

``ibviewer analyze`` and the GUI's File > Export Data call these same functions, so the
same run and settings give byte-identical files (a test checks it). Every write is
atomic: a crash never leaves half a file or destroys the previous one.

Formats (documented in docs/outputs.md):

- ``embeddings.csv``: one row per (epoch, layer, sample): ``epoch, layer, method, index,
  label, label_name, x, y[, z]``; ``index`` is the dataset index; coordinates are written
  with ``repr`` (shortest text that reads back to the same float). ``embeddings.json``
  beside it records each panel's method and effective parameters.
- ``neighbors.csv``: one row per (layer, rank): ``epoch, metric, query_index, query_name,
  query_layer, layer, rank, index, name, label, label_name, distance``.
- ``infoplane.csv`` and ``probes.csv``: see `write_infoplane_csv` and `write_probes_csv`
  (re-exported here).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import atomic_write_bytes
from ibviewer.core.safe_read import read_bounded, sha256_file
from ibviewer.core.information import write_infoplane_csv
from ibviewer.core.naming import SampleNames
from ibviewer.core.neighbors import Neighborhood
from ibviewer.core.output_meta import write_sidecar
from ibviewer.core.probes import write_probes_csv
from ibviewer.core.types import ActivationSet
from ibviewer.errors import IBViewerError

__all__ = [
    "PLAIN_TEXT",
    "write_output",
    "EMBEDDING_COLUMNS",
    "NEIGHBOR_COLUMNS",
    "embedding_rows",
    "neighbor_rows",
    "write_csv",
    "write_embeddings_csv",
    "write_neighbors_csv",
    "write_infoplane_csv",
    "write_probes_csv",
    "OUTPUT_MANIFEST",
    "OutputFolder",
]

EMBEDDING_COLUMNS = ("epoch", "layer", "method", "index", "label", "label_name")
NEIGHBOR_COLUMNS = (
    "epoch", "metric", "query_index", "query_name", "query_layer", "layer", "rank", "index", "name", "label",
    "label_name", "distance",
)  # fmt: skip
AXES = ("x", "y", "z")


#: matplotlib settings of every figure ibviewer writes: names from files are drawn as text, never as mathtext
PLAIN_TEXT = {"text.parse_math": False}


def write_output(path: str | Path, data: bytes) -> Path:
    """Write one output file through a temporary file and a rename; returns the path.

    A crash or a full disk never leaves half a file, and never destroys the previous one.

    Raises
    ------
    IBViewerError
        The folder is not writable.
    """
    path = Path(path)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise IBViewerError(f"Could not write {path} ({exc.strerror or exc}); choose a writable folder.") from exc
    return path


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a header and rows as CSV (``\\n`` line ends), atomically; returns the path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return write_output(path, buffer.getvalue().encode("utf-8"))


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
    """Write ``embeddings.csv`` (see the module docstring) for the given per-layer embeddings, and its
    ``embeddings.json`` sidecar: the method and effective parameters of every panel."""
    embeddings = list(embeddings)
    columns, rows = embedding_rows(embeddings, acts, names or SampleNames(acts))
    written = write_csv(path, columns, rows)
    write_sidecar(written, {"file": written.name, **embedding_metadata(embeddings, acts)})
    return written


def embedding_metadata(embeddings: Sequence[Any], acts: ActivationSet) -> dict[str, Any]:
    """How the embeddings were made: the samples, and per panel the method, seed and effective parameters."""
    return {
        "what": "per-layer embeddings", "n_samples": acts.n_samples,
        "capture": {k: v for k, v in acts.options.items() if k in ("max_samples", "seed", "sequence_pool", "feature_maps")},
        "panels": [
            {"epoch": int(e.epoch), "layer": e.layer, "method": e.method, "dims": int(e.dims), "seed": int(e.seed),
             "params": {k: _plain(v) for k, v in sorted(e.params.items())}, "n_embedded": len(e.embedded_idx),
             "n_features": int(e.n_features)}
            for e in embeddings
        ],
    }  # fmt: skip


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a parameter value (numpy scalars to Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


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


#: The manifest an analysis leaves in its output folder: what it wrote, with the settings.
OUTPUT_MANIFEST = "ibviewer-outputs.json"
OUTPUT_FORMAT = "ibviewer-outputs"
#: Only files named like this are ever replaced or removed as ibviewer's own.
_OUTPUT_NAME = re.compile(
    r"^(infoplane(_runs)?\.(csv|png|svg|pdf)|infoplane_runs\.json|(embeddings|probes)\.(csv|json)|(neighbors|words)\.csv|layers_e-?\d+\.(png|svg|pdf))$"
)


class OutputFolder:
    """A folder one analysis writes into, and the manifest of what ibviewer wrote there.

    Before anything is computed, :meth:`prepare` creates the folder, checks it is writable
    and refuses to replace a file ibviewer did not write (or that was changed since),
    unless ``overwrite``. After writing, :meth:`finish` removes the outputs an earlier
    analysis wrote that this one did not (so no stale file is mixed with new ones) and
    writes :data:`OUTPUT_MANIFEST`: every file with its SHA-256, and the settings. A file
    counts as ibviewer's only when the previous manifest lists it under its own kind of
    name with the same contents, so nothing else is ever removed.

    Parameters
    ----------
    folder : path
    overwrite : bool, default=False
        Replace files ibviewer did not write (``--overwrite``).
    """

    def __init__(self, folder: str | Path, overwrite: bool = False) -> None:
        self.folder = Path(folder).expanduser()
        self.overwrite = overwrite
        self._previous: dict[str, str] = {}

    def prepare(self, names: Iterable[str]) -> None:
        """Create and check the folder for writing ``names``.

        Raises
        ------
        IBViewerError
            Not a folder, not writable, or a file in the way that ibviewer did not write.
        """
        if self.folder.exists() and not self.folder.is_dir():
            raise IBViewerError(f"--out {self.folder} exists and is not a folder.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.folder):
                pass
        except OSError as exc:
            raise IBViewerError(f"Cannot write to the output folder {self.folder} ({exc.strerror or exc}); choose a writable place.") from exc
        self._previous = self._read_previous()
        if self.overwrite:
            return
        foreign = [name for name in names if (self.folder / name).exists() and not self._is_ours(name)]
        if foreign:
            raise IBViewerError(
                f"{self.folder} already holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, which ibviewer "
                "did not write (or which changed since); choose another --out, or pass --overwrite to replace them."
            )

    def finish(self, written: Sequence[Path], record: dict[str, Any]) -> Path:
        """Remove stale outputs of an earlier analysis and write the manifest; returns its path."""
        names = [Path(path).name for path in written]
        for name in self._previous:
            if name not in names and self._is_ours(name):
                (self.folder / name).unlink(missing_ok=True)
        files = {name: sha256_file(self.folder / name) for name in names}
        manifest = {"format": OUTPUT_FORMAT, "version": 1, **record, "files": files}
        return write_output(self.folder / OUTPUT_MANIFEST, (json.dumps(manifest, indent=1, default=str) + "\n").encode())

    def _read_previous(self) -> dict[str, str]:
        path = self.folder / OUTPUT_MANIFEST
        try:
            data = json.loads(read_bounded(path, 16 << 20))
        except (IBViewerError, ValueError, RecursionError):
            return {}
        files = data.get("files") if isinstance(data, dict) and data.get("format") == OUTPUT_FORMAT else None
        if not isinstance(files, dict):
            return {}
        return {name: digest for name, digest in files.items() if isinstance(digest, str) and _OUTPUT_NAME.match(str(name))}

    def _is_ours(self, name: str) -> bool:
        path = self.folder / name
        if name not in self._previous or path.is_symlink() or not path.is_file():
            return False
        try:
            return sha256_file(path) == self._previous[name]
        except IBViewerError:
            return False


