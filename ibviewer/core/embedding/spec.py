"""What to compute: `EmbeddingSpec`, the settings of an embedding, checked once where it is made.

The spec travels whole from `embed`/`embed_layers` through the planning to each panel,
instead of a train of arguments; the steps read the fields they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ibviewer.core.config import ALIGNMENTS, METHODS, PREPROCESSINGS
from ibviewer.core.embedding.checks import check_choice
from ibviewer.core.embedding.methods import METHOD_REGISTRY, EmbeddingMethod
from ibviewer.errors import EstimatorError

__all__ = ["Method", "Alignment", "DEFAULT_ALIGNMENT", "EmbeddingSpec"]

Method = Literal["tsne", "umap", "pca"]  # the keys of config.METHODS
Alignment = Literal["init", "procrustes", "aligned_umap", "none"]  # the keys of config.ALIGNMENTS
DEFAULT_ALIGNMENT: Alignment = "init"


@dataclass(frozen=True)
class EmbeddingSpec:
    """The settings of an embedding (one representation, or a run's panels).

    Attributes
    ----------
    method : {"tsne", "umap", "pca"}
        A key of :data:`ibviewer.core.config.METHODS` (its title there).
    dims : {2, 3}
    seed : int
    params : dict
        The method parameters the user gave (defaults are filled in by `resolved_params`).
    preprocessing : {"none", "center", "standardize", "l2"}
    pca_dims : int, "auto" or None
        PCA to this many dimensions before t-SNE/UMAP; ``"auto"``: 50 for layers wider than 100
        features (`preprocessing.AUTO_PCA_DIMS`); None: never.
    max_points : int or None
        Embed a seeded subset of this size, place the rest afterwards; None: every point up to
        `preprocessing.AUTO_MAX_POINTS`, a subset of that size above it.
    alignment : {"init", "procrustes", "aligned_umap", "none"} or None
        How a run's panels are aligned; None for a single representation (`embed`).
    faithfulness : bool
        Compute trustworthiness and per-point k-NN overlap for each panel.

    Raises
    ------
    EstimatorError
        On construction: an unknown method, preprocessing, alignment or parameter; dims not
        2 or 3; a bad ``pca_dims``; settings the method rejects (3-D t-SNE with FFT
        gradients); ``aligned_umap`` with a method other than UMAP or its parameters without it.
    """

    method: str = "pca"
    dims: int = 2
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    preprocessing: str = "none"
    pca_dims: int | str | None = None
    max_points: int | None = None
    alignment: str | None = None
    faithfulness: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))  # our own copy: the spec never changes
        check_choice("embedding method", self.method, METHODS)
        check_choice("preprocessing", self.preprocessing, PREPROCESSINGS)
        if self.dims not in (2, 3) or isinstance(self.dims, bool):
            raise EstimatorError(f"Embeddings are drawn in 2 or 3 dimensions; dims={self.dims!r} is not supported.")
        if self.pca_dims not in (None, "auto") and (
            isinstance(self.pca_dims, (str, bool)) or int(self.pca_dims) < 2 or int(self.pca_dims) != self.pca_dims
        ):
            raise EstimatorError(f"pca_dims must be an integer >= 2 (e.g. 50), 'auto' or None, got {self.pca_dims!r}.")
        entry = self.method_entry
        unknown = sorted(set(self.params) - set(entry.defaults))
        if unknown:
            allowed = ", ".join(sorted(entry.defaults)) or "none"
            raise EstimatorError(f"{self.title} does not take {', '.join(unknown)}; its parameters: {allowed}.")
        if entry.check is not None:
            entry.check(self.dims, self.params)
        if self.alignment is not None:
            self._check_alignment()

    def _check_alignment(self) -> None:
        check_choice("alignment", self.alignment, ALIGNMENTS)
        if self.alignment == "aligned_umap" and self.method != "umap":
            raise EstimatorError(f"alignment='aligned_umap' works with method='umap' only, not {self.method!r}.")
        if self.alignment != "aligned_umap":
            for name in self.method_entry.sequence_params:
                if name in self.params:
                    raise EstimatorError(f"{name} applies to alignment='aligned_umap' only.")

    @property
    def method_entry(self) -> EmbeddingMethod:
        """The method's registry entry."""
        return METHOD_REGISTRY[self.method]

    @property
    def title(self) -> str:
        """The method's title ("t-SNE"), as everywhere in the app."""
        return METHODS[self.method]

    def resolved_params(self) -> dict[str, Any]:
        """Every parameter of a single embedding with this method: defaults updated with ``params``."""
        return self.method_entry.resolved_params(self.params)

    def recorded_settings(self) -> dict[str, Any]:
        """The settings each `LayerEmbedding.params` records beside the method's parameters."""
        return {
            "preprocessing": self.preprocessing,
            "pca_dims": self.pca_dims,
            "alignment": self.alignment,
            "max_points": self.max_points,
        }

    def cache_settings(self) -> dict[str, Any]:
        """Everything of the spec that a cached panel depends on (part of its cache key)."""
        return {
            "method": self.method,
            "dims": self.dims,
            "seed": self.seed,
            "params": self.params,
            "faithfulness": self.faithfulness,
            **self.recorded_settings(),
        }
