"""The registry of embedding methods: one entry per method module.

A new method is a module with ``DEFAULTS`` and ``run(task, progress)`` (see `pca.py`, the
smallest), one `EmbeddingMethod` entry below, and its title in
:data:`ibviewer.core.config.METHODS` (the one list of choices; a test checks both agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ibviewer.core.embedding import pca, tsne, umap
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.progress import Progress
from ibviewer.core.types import FloatArray

__all__ = ["EmbeddingMethod", "METHOD_REGISTRY"]


@dataclass(frozen=True)
class EmbeddingMethod:
    """How the package runs one method.

    Attributes
    ----------
    defaults : mapping
        Every parameter the method accepts, with its default (None: the library's default).
    run : callable
        ``run(task: MethodInput, progress) -> coords``: (n_samples, dims) float32 for every row
        of ``task.features``; embeds ``task.embedded_idx`` and places the other rows. Writes
        any parameter it had to adapt back into ``task.params``. Checks ``progress`` for
        cancellation where it can and may post `PartialEmbedding` objects.
    linear : bool, default=False
        True for a projection fitted on every point (PCA): no minimum number of samples,
        and ``pca_dims``, ``max_points`` and a start layout do not apply.
    check : callable, optional
        ``check(dims, params)`` raises `EstimatorError` for settings the library would reject
        later, so the user hears it before any work starts.
    sequence_params : tuple of str
        Parameters only an aligned sequence reads (AlignedUMAP); dropped from a single
        embedding's parameters.
    """

    defaults: Mapping[str, Any]
    run: Callable[[MethodInput, Progress], FloatArray]
    linear: bool = False
    check: Callable[[int, Mapping[str, Any]], None] | None = None
    sequence_params: tuple[str, ...] = ()

    def resolved_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``params``, without the sequence-only ones."""
        resolved = {**self.defaults, **params}
        for name in self.sequence_params:
            resolved.pop(name)
        return resolved


#: name (a key of config.METHODS) -> how to run it
METHOD_REGISTRY: dict[str, EmbeddingMethod] = {
    "tsne": EmbeddingMethod(tsne.DEFAULTS, tsne.run, check=tsne.check),
    "umap": EmbeddingMethod(umap.DEFAULTS, umap.run, sequence_params=umap.SEQUENCE_PARAMS),
    "pca": EmbeddingMethod(pca.DEFAULTS, pca.run, linear=True),
}
