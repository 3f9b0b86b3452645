"""The ``kde`` estimator: Kolchinsky-Tracey / Bhattacharyya bounds for T plus Gaussian noise.

The pairwise kernel is computed in torch, float64, one (chunk, N) block at a time on and above
the diagonal, on CUDA when available; memory stays bounded whatever N is.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np

from ibviewer.core.device import resolve_device
from ibviewer.core.information._common import MIEstimator, _check_int, _check_positive_float, _fmt, _labels_entropy
from ibviewer.core.types import IntArray
from ibviewer.errors import EstimatorError

__all__ = ["KDEMIEstimator"]

# For kde: the mean log2 of each sample's kernel mass is below this (each sample isolated).
_KDE_SATURATION_TOL = 1e-3
# Elements of one (chunk, n_samples) float64 kernel block of the kde estimator: 8 MB is near
# cache on CPU with few enough blocks that threads rarely wait; on CUDA larger (128 MB).
_KDE_BLOCK_ELEMENTS = 2**20
_KDE_BLOCK_ELEMENTS_CUDA = 2**24


class KDEMIEstimator(MIEstimator):
    """Bounds on I(X;T) and I(T;Y) for T plus Gaussian noise (Kolchinsky & Tracey; Saxe et al.).

    T is taken as ``h(X) + Z`` with ``Z ~ N(0, noise_var * I)``, a mixture of N Gaussians.
    Its entropy lies between the Bhattacharyya lower bound and the Kullback-Leibler upper
    bound of Kolchinsky & Tracey (2017); subtracting the noise entropy H(T|X) gives, in nats,

    ``I(X;T) <= -mean_i log(mean_j exp(-||t_i - t_j||^2 / (2 noise_var)))``,
    ``I(X;T) >= -mean_i log(mean_j exp(-||t_i - t_j||^2 / (8 noise_var)))``,

    and I(T;Y) = H(T) - sum_y p(y) H(T|Y=y) with the same bound on every entropy (means over
    samples of the same class inside the logarithm for H(T|Y=y)), as in Saxe et al. (2018).

    Parameters
    ----------
    noise_var : float, default=1e-3
        Variance of the added Gaussian noise (Saxe et al.: 1e-3 for the small tanh network,
        1e-1 at MNIST scale). Smaller values push I(X;T) towards log2(N).
    chunk_size : int, optional
        Rows of the (chunk, N) kernel blocks computed at once (two float64 blocks are held);
        default: 2**20 elements per block on CPU, 2**24 on CUDA.
    device : str, optional
        Torch device; default ``"cuda"`` when available, else ``"cpu"``.

    Attributes
    ----------
    i_xt_, i_ty_ : float
        Upper bounds, in bits.
    i_xt_lower_, i_ty_lower_ : float
        Lower bounds, in bits.
    h_y_, log2_n_ : float
        Ceilings H(Y) and log2(N), in bits.
    saturated_ : bool
        True when I(X;T) is within 1e-3 bits of log2(N): the noise is too small to merge any
        samples, so the estimate says nothing.

    Notes
    -----
    Computed in float64 with torch, one (chunk, N) block at a time, on and above the diagonal
    only (the kernel is symmetric): memory is bounded whatever N is. Each sample's own kernel
    term is 1 (the largest), so ``log(sum)`` needs no shifting, and per-class sums come from
    matrix products with the one-hot labels. The I(X;T) bounds are true bounds for the
    noisy T; the I(T;Y) "bounds" are differences of bounds (what Saxe et al. report) and are
    not guaranteed to bracket I(T;Y). Both depend on ``noise_var``, which sets the resolution
    at which samples count as different. Units: bits.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise
       distances", Entropy 19(7):361, 2017.
    .. [2] A. M. Saxe et al., "On the information bottleneck theory of deep learning",
       ICLR 2018.
    """

    name = "kde"
    has_bounds = True
    runtime_params = frozenset({"chunk_size", "device"})
    saturation_fix = "use a larger noise variance (noise_var / --noise-var)"

    def __init__(self, noise_var: float = 1e-3, chunk_size: int | None = None, device: str | None = None) -> None:
        self.noise_var = noise_var
        self.chunk_size = chunk_size
        self.device = device

    def get_params(self) -> dict[str, Any]:
        noise_var = _check_positive_float("noise_var", self.noise_var)
        chunk_size = None if self.chunk_size is None else _check_int("chunk_size", self.chunk_size, 1)
        if self.device is not None and not isinstance(self.device, str):
            raise EstimatorError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}.")
        return {"noise_var": noise_var, "chunk_size": chunk_size, "device": self.device}

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """E.g. ``"kde: noise variance 0.001"``."""
        return f"kde: noise variance {_fmt(params['noise_var'])}"

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int, inputs: Any = None) -> Self:
        params = self.get_params()
        n = t.shape[0]
        device = resolve_device(self.device, EstimatorError)
        block_elements = _KDE_BLOCK_ELEMENTS_CUDA if device.type == "cuda" else _KDE_BLOCK_ELEMENTS
        chunk = min(n, params["chunk_size"] or max(1, block_elements // n))
        upper, lower = _kde_bounds_nats(t, y_ids, n_classes, params["noise_var"], chunk, device)
        self.h_y_ = _labels_entropy(y_ids, n_classes)
        self.log2_n_ = math.log2(n)
        # clip into [0, ceiling]: the bounds cannot leave it except by rounding (I(X;T)) or, for
        # the differences of bounds that estimate I(T;Y), by falling below 0
        bits = 1.0 / math.log(2)
        self.i_xt_, self.i_xt_lower_ = (min(max(v[0] * bits, 0.0), self.log2_n_) for v in (upper, lower))
        self.i_ty_, self.i_ty_lower_ = (min(max(v[1] * bits, 0.0), self.h_y_) for v in (upper, lower))
        self.saturated_ = self.log2_n_ - self.i_xt_ <= _KDE_SATURATION_TOL
        return self


def _kde_bounds_nats(
    t: np.ndarray, y_ids: IntArray, n_classes: int, noise_var: float, chunk: int, device
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((I_xt_upper, I_ty_upper), (I_xt_lower, I_ty_lower)) in nats, chunked over rows.

    The kernel matrix is symmetric, so only blocks on and above the diagonal are computed: rows
    ``[s, e)`` against columns ``[s, N)``. Each block adds its row sums to rows ``[s, e)`` and its
    column sums (right of the diagonal block) to rows ``[e, N)``, per class, through products with
    the one-hot labels. Scaled squared distances come from one matrix product of augmented rows,
    ``[x_i, |x_i|^2, 1] . [-2 x_j, 1, |x_j|^2] * (-1 / (8 var))``, into preallocated blocks (fresh
    large buffers cost page faults on every chunk). Each sample's own kernel term is exp(0) = 1,
    the largest, so ``log(sum)`` needs no max shift.
    """
    import torch

    n = t.shape[0]
    f64 = torch.float64
    x = torch.as_tensor(np.ascontiguousarray(t), device=device).to(f64)
    sq_norms = (x * x).sum(dim=1, keepdim=True)
    ones = torch.ones_like(sq_norms)
    scale = -1.0 / (2.0 * noise_var)
    left = torch.cat([x, sq_norms, ones], dim=1)
    right_t = torch.cat([-2.0 * x, ones, sq_norms], dim=1).mul_(0.25 * scale).T.contiguous()
    labels = torch.as_tensor(y_ids, device=device)
    onehot_t = torch.zeros((n_classes, n), dtype=f64, device=device)
    onehot_t[labels, torch.arange(n, device=device)] = 1.0
    # per row and class: kernel mass, for the KL kernel (var) and the Bhattacharyya one (4 var)
    mass = {"kl": torch.zeros((n_classes, n), dtype=f64, device=device), "bd": torch.zeros((n_classes, n), dtype=f64, device=device)}
    buffers = {"kl": torch.empty(chunk * n, dtype=f64, device=device), "bd": torch.empty(chunk * n, dtype=f64, device=device)}
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            shape = (stop - start, n - start)
            kl = buffers["kl"][: shape[0] * shape[1]].view(shape)
            bd = buffers["bd"][: shape[0] * shape[1]].view(shape)
            torch.mm(left[start:stop], right_t[:, start:], out=bd)  # -d^2 / (8 var)
            bd.exp_()  # Bhattacharyya kernel exp(-d^2 / (8 var))
            # KL kernel exp(-d^2 / (2 var)) = (BD kernel)^4: two products instead of another exp;
            # terms lost to underflow are < 1e-300, invisible next to each row's self term 1
            torch.mul(bd, bd, out=kl).mul_(kl)
            for name, block in (("kl", kl), ("bd", bd)):
                mass[name][:, start:stop] += onehot_t[:, start:] @ block.T
                if stop < n:
                    mass[name][:, stop:] += onehot_t[:, start:stop] @ block[:, stop - start :]
        log_n = math.log(n)
        log_class_sizes = torch.log(onehot_t.sum(dim=1))[labels]
        means = []
        for name in ("kl", "bd"):
            log_all = torch.log(mass[name].sum(dim=0)) - log_n
            log_own = torch.log(mass[name].gather(0, labels[None, :])[0]) - log_class_sizes
            means.append((float(log_all.mean()), float((log_own - log_all).mean())))
    (kl_all, kl_gain), (bd_all, bd_gain) = means
    return (-kl_all, kl_gain), (-bd_all, bd_gain)

