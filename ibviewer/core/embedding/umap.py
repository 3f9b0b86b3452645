"""UMAP (umap-learn): fit the embedded rows, ``transform`` the rest; plus the numba start-up helpers.

Most of a first fit in a process used to be numba compiling umap-learn's approximate neighbour
search and layout code (~10-40 s). Now:

- the neighbours are the exact, shared `knn.neighbor_table` passed as ``precomputed_knn``, so the
  approximate search (pynndescent) is neither compiled nor run (it still is when a subset is
  embedded: placing the rest needs its index);
- `import_umap` switches on numba's on-disk cache for every umap-learn function that does not
  ask for it, so what one process compiled the next loads (`configure_numba_cache` says where);
- `warm_up_umap` compiles those paths ahead, for an app that knows UMAP is coming.

AlignedUMAP, which embeds a whole sequence at once, lives with the other alignments in
`alignment.py` and reads the `SEQUENCE_PARAMS` below.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ibviewer.core.embedding.checks import warn
from ibviewer.core.embedding.knn import exact_supported, neighbor_table
from ibviewer.core.embedding.preprocessing import MethodInput
from ibviewer.core.progress import Progress
from ibviewer.core.types import FloatArray

__all__ = ["DEFAULTS", "SEQUENCE_PARAMS", "run", "import_umap", "umap_kwargs", "configure_numba_cache", "warm_up_umap"]

logger = logging.getLogger(__name__)

# Parameters UMAP accepts, with their defaults (None: umap-learn's default).
DEFAULTS: dict[str, Any] = {
    "n_neighbors": 15,
    "min_dist": 0.1,
    "spread": 1.0,
    "metric": "euclidean",
    "n_epochs": None,
    "learning_rate": 1.0,
    "negative_sample_rate": 5,
    "repulsion_strength": 1.0,
    "alignment_regularisation": 1.0e-2,  # AlignedUMAP only
    "alignment_window_size": 3,  # AlignedUMAP only
}
#: Read only by AlignedUMAP (alignment="aligned_umap"); a single UMAP drops them.
SEQUENCE_PARAMS = ("alignment_regularisation", "alignment_window_size")


_CACHING = {"enabled": False}
_CACHING_LOCK = threading.Lock()


def import_umap() -> Any:
    """umap-learn, imported quietly (it warns that the optional TensorFlow is missing), its numba cache on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*", category=ImportWarning)
        import umap
    with _CACHING_LOCK:
        if not _CACHING["enabled"]:
            _CACHING["enabled"] = True
            n = _persist_compiled_code(("umap",))
            logger.info("numba on-disk cache switched on for %d umap-learn functions", n)
    return umap


def _persist_compiled_code(packages: tuple[str, ...]) -> int:
    """Give every numba function of ``packages`` without ``cache=True`` an on-disk cache; returns how many.

    umap-learn marks only a few functions ``cache=True``; the layout optimiser and the fuzzy
    graph are compiled again in every process (~10 s) unless cached. numba's cache keys on the
    function's source file, so a changed umap-learn simply compiles afresh.
    """
    import sys

    from numba.core.dispatcher import Dispatcher

    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.partition(".")[0] not in packages:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and type(value._cache).__name__ == "NullCache":
                try:
                    value.enable_caching()
                    count += 1
                except Exception as exc:  # noqa: BLE001 - a function that cannot be cached only compiles
                    logger.debug("no numba cache for %s: %s", getattr(value, "__name__", value), exc)
    return count


def exact_neighbors(x_sub: FloatArray, n_neighbors: int, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """UMAP's ``precomputed_knn`` from the shared exact table (each point its own first neighbour), or None."""
    n = x_sub.shape[0]
    if not exact_supported(metric, n) or n_neighbors < 2:
        return None
    table = neighbor_table(x_sub, n_neighbors - 1, metric)
    indices = np.hstack([np.arange(n, dtype=np.int64)[:, None], table.indices])
    distances = np.hstack([np.zeros((n, 1)), table.distances]).astype(np.float32)
    return indices, distances


def umap_kwargs(params: Mapping[str, Any], n_sub: int, dims: int, seed: int, where: str) -> dict[str, Any]:
    """``umap.UMAP`` keyword arguments; ``n_neighbors`` lowered (with a warning) below ``n_sub``."""
    n_neighbors = int(params["n_neighbors"])
    if n_neighbors > n_sub - 1:
        warn(f"{where}n_neighbors={n_neighbors} is too large for {n_sub} points; using {n_sub - 1}.")
        n_neighbors = n_sub - 1
    return {
        "n_components": dims,
        "n_neighbors": max(2, n_neighbors),
        "min_dist": params["min_dist"],
        "spread": params["spread"],
        "metric": params["metric"],
        "n_epochs": params["n_epochs"],
        "learning_rate": params["learning_rate"],
        "negative_sample_rate": params["negative_sample_rate"],
        "repulsion_strength": params["repulsion_strength"],
        "random_state": seed,
    }


def run(task: MethodInput, progress: Progress) -> FloatArray:
    """Fit UMAP on the embedded rows and ``transform`` the others; records the ``n_neighbors`` used.

    UMAP has no iteration callback: cancellation is checked before the fit and after it.
    """
    umap = import_umap()
    embedded_idx, dims = task.embedded_idx, task.dims
    x_sub = task.features[embedded_idx]
    n_sub, n = len(embedded_idx), task.n_samples
    kwargs = umap_kwargs(task.params, n_sub, dims, task.seed, task.where)
    task.params["n_neighbors"] = kwargs["n_neighbors"]
    if task.init is not None:
        # UMAP lays out in a box of about +-10: bring the neighbour's layout there
        kwargs["init"] = (task.init / np.abs(task.init).max() * 10.0).astype(np.float32)
    elif n_sub <= dims + 10:
        kwargs["init"] = "random"  # the spectral layout needs more points than this
    progress.update(0.0, "UMAP fit")
    progress.check_cancelled()
    if n_sub == n:  # placing a rest needs UMAP's own search index: only then does UMAP search itself
        knn = exact_neighbors(x_sub, kwargs["n_neighbors"], str(kwargs["metric"]))
        if knn is not None:
            kwargs["precomputed_knn"] = knn
    # random_state makes UMAP single-threaded (reproducible); n_jobs=1 says so and avoids its warning
    reducer = umap.UMAP(n_jobs=1, **kwargs)
    coords = np.zeros((n, dims), dtype=np.float32)
    with warnings.catch_warnings():
        # "transforming new data with transform will be unavailable": nothing is transformed then
        warnings.filterwarnings("ignore", message=".*knn_search_index.*", category=UserWarning)
        coords[embedded_idx] = reducer.fit_transform(x_sub)
    progress.check_cancelled()
    if n_sub < n:
        progress.update(0.9, f"placing the other {n - n_sub} points")
        rest = np.setdiff1d(np.arange(n), embedded_idx)
        coords[rest] = reducer.transform(task.features[rest])
    progress.update(1.0, "UMAP done")
    return coords


def configure_numba_cache(cache_dir: str | None = None) -> str | None:
    """Point numba's on-disk cache at a writable folder when none is set.

    numba writes the functions that have an on-disk cache (umap-learn's and pynndescent's own
    ``cache=True`` ones, and those `import_umap` switches on) next to the package or, when
    that is read-only, into ``NUMBA_CACHE_DIR``. With it a fresh process loads what an earlier
    one compiled. Must run before numba is first imported to take effect. Returns the folder used.
    """
    import os

    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    from ibviewer.core.cache import cache_root

    folder = str(cache_root(cache_dir) / "numba")
    os.environ["NUMBA_CACHE_DIR"] = folder
    return folder


def warm_up_umap(*, background: bool = True, large: bool = False) -> threading.Thread | float:
    """Compile UMAP's numba code with a tiny fit, so the user's first UMAP is fast.

    Parameters
    ----------
    background : bool, default=True
        Run in a daemon thread and return it at once (call at app start); otherwise
        run here and return the seconds it took.
    large : bool, default=False
        Also compile the approximate-neighbour path (pynndescent) that UMAP uses
        from 4,096 points on; costs about as much again.

    Notes
    -----
    A fresh process pays ~10 s (more with ``large``) of numba compilation on its first
    UMAP fit; this moves that cost to start-up. See docs/performance.md.
    """

    def work() -> float:
        start = time.perf_counter()
        try:
            umap = import_umap()
            rng = np.random.default_rng(0)
            x = rng.normal(size=(200, 8)).astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # what `run` uses: exact neighbours given; and UMAP's own search, which placing a rest needs
                umap.UMAP(n_neighbors=10, n_epochs=20, random_state=0, n_jobs=1,
                          precomputed_knn=exact_neighbors(x, 10, "euclidean")).fit(x)  # fmt: skip
                for approximate in (False, True) if large else (False,):
                    reducer = umap.UMAP(
                        n_neighbors=10, n_epochs=20, random_state=0, n_jobs=1, force_approximation_algorithm=approximate
                    )
                    reducer.fit(x)
                    reducer.transform(x[:10])
        except Exception as exc:  # a failed warm-up only loses the speed-up
            logger.warning("UMAP warm-up failed: %s", exc)
        elapsed = time.perf_counter() - start
        logger.info("UMAP warm-up took %.1f s", elapsed)
        return elapsed

    if not background:
        return work()
    thread = threading.Thread(target=work, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
