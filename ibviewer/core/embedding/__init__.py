"""Per-layer 2-D/3-D embeddings (PCA, t-SNE, UMAP), aligned across layers and epochs, with faithfulness.

:func:`embed` is the building block (one representation in, ``(n_samples, dims)`` out);
:func:`embed_layers` embeds a run's layers and epochs so that panels are comparable, posts
each finished panel through ``progress.partial`` and caches every panel on disk.

The package, in the order data flows through it:

- ``spec.py``: `EmbeddingSpec`, the settings, validated once and passed whole;
- ``preprocessing.py``: preprocessing, PCA-before, the embedded subset (`MethodInput`);
- ``methods.py``: the registry, one entry per method module ``pca.py``, ``tsne.py``, ``umap.py``;
- ``representation.py``: `embed`, one representation through one method;
- ``alignment.py``: the panel order, Procrustes, AlignedUMAP;
- ``faithfulness.py``: trustworthiness and k-NN overlap;
- ``layers.py``: `embed_layers`, panels, cache and partial results;
- ``results.py``: `PartialEmbedding`, `LayerEmbedding`, `EmbeddingSet`.

The choices and their titles are :data:`ibviewer.core.config.METHODS`, ``ALIGNMENTS`` and
``PREPROCESSINGS``. openTSNE, umap-learn and scikit-learn are imported inside functions so
importing this package (and ``ibviewer --help``) stays fast. See ``docs/embeddings.md``.
"""

from __future__ import annotations

from ibviewer.core.embedding.alignment import procrustes_align
from ibviewer.core.embedding.faithfulness import trustworthiness
from ibviewer.core.embedding.layers import embed_layers, select_epochs, select_layers
from ibviewer.core.embedding.methods import METHOD_REGISTRY, EmbeddingMethod
from ibviewer.core.embedding.preprocessing import Preprocessing, preprocess
from ibviewer.core.embedding.representation import embed
from ibviewer.core.embedding.results import EmbeddingSet, LayerEmbedding, PartialEmbedding
from ibviewer.core.embedding.spec import DEFAULT_ALIGNMENT, Alignment, EmbeddingSpec, Method
from ibviewer.core.embedding.umap import configure_numba_cache, warm_up_umap
from ibviewer.core.neighbors import knn_overlap

__all__ = [
    "Method",
    "Alignment",
    "Preprocessing",
    "DEFAULT_ALIGNMENT",
    "EmbeddingSpec",
    "EmbeddingMethod",
    "METHOD_REGISTRY",
    "PartialEmbedding",
    "LayerEmbedding",
    "EmbeddingSet",
    "embed",
    "embed_layers",
    "select_epochs",
    "select_layers",
    "preprocess",
    "procrustes_align",
    "trustworthiness",
    "knn_overlap",
    "warm_up_umap",
    "configure_numba_cache",
]
