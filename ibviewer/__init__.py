"""ibviewer: look inside trained neural networks through information theory.

Importing ``ibviewer`` is cheap; the public API is loaded on first use:

- :func:`open_run` opens checkpoints, run folders, ``.pt2`` programs and activation archives;
- :func:`mutual_information` estimates I(X;T) and I(T;Y) of one representation;
- :func:`embed` embeds one representation with PCA, t-SNE or UMAP;
- :class:`Recorder` records a run from your own training loop.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "open_run": "ibviewer.core.run",
    "Run": "ibviewer.core.run",
    "ExtractOptions": "ibviewer.core.activations",
    "load_dataset": "ibviewer.core.datasets",
    "mutual_information": "ibviewer.core.information",
    "compute_information_plane": "ibviewer.core.information",
    "embed": "ibviewer.core.embedding",
    "embed_layers": "ibviewer.core.embedding",
    "run_probes": "ibviewer.core.probes",
    "Recorder": "ibviewer.core.recorder",
    "IBViewerError": "ibviewer.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ibviewer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
