"""Checks shared by the embedding package: a choice, an activation array, and warnings aimed at the caller."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ibviewer.core.types import FloatArray
from ibviewer.errors import ActivationError, EstimatorError

# t-SNE and UMAP need a few neighbours per point; below this only PCA embeds
MIN_SAMPLES_NONLINEAR = 5

_PACKAGE = __name__.rpartition(".")[0]


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def thread_budget() -> int:
    """Threads worth starting now: every available core, or one when other work already fills them.

    OpenMP threads wait for each other at every iteration; when the machine's 1-minute load
    average is above its cores (oversubscribed) that waiting costs more than a second thread
    gains: openTSNE measured 1.6x (10,000 points, FFT) to 2.8x (2,000 points, Barnes-Hut)
    slower with 2 threads than with 1 at load 16 on 2 cores. The coordinates do not depend on
    the number of threads.
    """
    cores = available_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        return cores
    return cores if load <= cores + 0.5 else 1


#: below this many values (rows x features) a BLAS call gains nothing from a second thread
SMALL_BLAS_PROBLEM = 5_000_000
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter: Any = None


@contextlib.contextmanager
def lean_blas(n_values: int) -> Iterator[None]:
    """One BLAS thread while inside, for small problems or when the machine is oversubscribed.

    OpenBLAS threads spin while they wait for each other: a PCA of 1797 x 64 took 0.33 s with
    two threads at load 20 on 2 cores and 0.017 s with one (the playback preview runs 75 of
    them). Process-wide (BLAS has no per-thread setting): nested and concurrent uses share one
    limit, and the last to leave restores the previous one.
    """
    global _blas_depth, _blas_limiter
    if n_values > SMALL_BLAS_PROBLEM and thread_budget() > 1:
        yield
        return
    with _blas_lock:
        if _blas_depth == 0:
            controller = _blas_controller()
            _blas_limiter = controller.limit(limits=1, user_api="blas") if controller is not None else None
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded thread pools, made once (finding them reads /proc: ~30 ms)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with scikit-learn; without it nothing changes
        return None
    return ThreadpoolController()


def check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    """Raise an `EstimatorError` naming the choices when ``value`` is not one of them."""
    if value not in choices:
        raise EstimatorError(f"Unknown {name} {value!r}; choose one of {', '.join(choices)}.")


def warn(message: str) -> None:
    """``warnings.warn(message)`` attributed to the first caller outside this package.

    The user sees the line that called `embed` or `embed_layers`, however deep inside the
    package the problem was found, and no hand-counted ``stacklevel`` breaks when code moves.
    """
    frame = sys._getframe(1)  # the function that found the problem
    level = 2
    while frame.f_back is not None and _in_package(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, UserWarning, stacklevel=level)


def _in_package(module: str) -> bool:
    return module == _PACKAGE or module.startswith(_PACKAGE + ".")


def as_activations(x: np.ndarray) -> FloatArray:
    """``x`` as a C-contiguous float32 (n_samples, n_features) array, or an `ActivationError` saying what is wrong."""
    array = np.asarray(x)
    if array.ndim == 1:
        raise ActivationError(
            f"Expected (n_samples, n_features) activations, got a 1-D array of {array.shape[0]} values; "
            "reshape it to (n, 1) for one feature."
        )
    if array.ndim != 2:
        raise ActivationError(f"Expected (n_samples, n_features) activations, got shape {array.shape}.")
    if array.shape[0] < 2:
        raise ActivationError(f"Cannot embed {array.shape[0]} sample(s); an embedding needs at least 2.")
    if array.shape[1] < 1:
        raise ActivationError("The activations have no features (shape (n, 0)).")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        n_bad = int(bad.any(axis=1).sum())
        raise ActivationError(
            f"The activations contain NaN or infinite values in {n_bad} of {array.shape[0]} samples "
            "(a diverged model?); re-extract them from a healthy checkpoint or drop those samples."
        )
    return array
