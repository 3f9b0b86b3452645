"""The ``renyi`` estimator: matrix-based Rényi α-entropies of Gaussian Gram matrices.

Giraldo, Rao & Principe (2015) define, for N samples and a Gram matrix K of an infinitely
divisible kernel, ``A = K / tr(K)`` and ``S_α(A) = log2(tr(A^α)) / (1 - α)``; a joint entropy
is that of the Hadamard product ``A ∘ B / tr(A ∘ B)``, and ``I(A;B) = S(A) + S(B) - S(A, B)``.
No density is estimated: the spectrum of the Gram matrix stands in for it. This module holds
the estimator (settings, the kernel-width rule, feature maps); the torch arithmetic lives in
``_matrix_entropy``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from ibviewer.core.device import resolve_device
from ibviewer.core.information._common import MIEstimator, _check_int, _check_positive_float, _fmt
from ibviewer.core.information._matrix_entropy import (
    gram_distances,
    label_entropy,
    quadratic_entropies,
    spectral_entropies,
)
from ibviewer.core.types import IntArray
from ibviewer.errors import EstimatorError

if TYPE_CHECKING:
    import torch

__all__ = [
    "RenyiMIEstimator",
    "kernel_width_of",
    "WIDTH_RULES",
    "DEFAULT_ALPHA",
    "DEFAULT_WIDTH_RULE",
    "CONV_KERNELS",
]

#: α = 2: tr(A^2) needs no eigendecomposition (see docs/information.md for the choice).
DEFAULT_ALPHA = 2.0
#: Kernel-width rules and the default multiple of each (docs/information.md: the measurements).
WIDTH_RULES: dict[str, float] = {"median": 0.35, "silverman": 1.0}
DEFAULT_WIDTH_RULE = "median"
#: How a C x H x W feature map is given a kernel.
CONV_KERNELS = ("tensor", "channels")
# S(T) this close to log2(N) (bits): every sample is resolved on its own.
_SATURATION_TOL = 1e-3
# The eigensolver's N x N matrices: beyond this many samples they cost gigabytes and minutes.
_MAX_SPECTRAL_SAMPLES = 10_000
# The median rule looks at the distances among at most this many samples (a fixed, seeded subset).
_MEDIAN_ROWS = 1024
# alpha = 2 keeps the inputs' K_X^2 (N x N float64, 134 MB at this size) for all cells of a plane.
_MAX_KEPT_INPUT_GRAM = 4096
# Elements of one (chunk, N) float64 block of the alpha = 2 sums (8 MB on CPU; 128 MB on CUDA).
_BLOCK_ELEMENTS = 2**20
_BLOCK_ELEMENTS_CUDA = 2**24


def kernel_width_of(z: torch.Tensor, rule: str, factor: float) -> float:
    """``factor`` times the width rule ``rule`` applied to the centred rows ``z`` (n_samples, d).

    ``"median"``: the median distance between distinct samples (the median heuristic of kernel
    methods; among a fixed seeded subset of 1024 samples when there are more). ``"silverman"``:
    Silverman's normal-reference bandwidth ``s * (4 / (d + 2))**(1 / (d + 4)) * n**(-1 / (d + 4))``
    with ``s`` the root mean square of the units' standard deviations. Both scale with the
    values, so every entropy is invariant to scaling the layer. 0.0 when every row is the same.
    """
    import torch

    n, d = z.shape
    if rule == "silverman":
        s = math.sqrt(float((z * z).sum()) / (d * (n - 1))) if n > 1 else 0.0
        return factor * s * (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    if n > _MEDIAN_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, _MEDIAN_ROWS, replace=False))
        z = z[torch.as_tensor(rows, device=z.device)]
    squared = gram_distances(z)[torch.triu_indices(z.shape[0], z.shape[0], 1, device=z.device).unbind()]
    # between distinct samples: a majority of repeated rows (dead ReLU units) must not make sigma 0;
    # repeated rows give squared distances of rounding size (~eps |z|^2), not exact zeros
    rounding = 64 * float(torch.finfo(z.dtype).eps) * float((z * z).sum(dim=1).max())
    distances = squared[squared > rounding].sqrt_().sort().values
    m = distances.numel()
    if m == 0:
        return 0.0
    return factor * 0.5 * float(distances[(m - 1) // 2] + distances[m // 2])  # the middle two when m is even


@dataclass(frozen=True)
class InputSide:
    """The inputs X of I(X;T), prepared once for every cell of a plane.

    ``z`` are the inputs, flattened, centred and divided by their kernel width ``width``
    (float64, on the CPU so that joblib can hand them to workers); ``entropy`` is S_α(X) in bits.
    ``squared_gram`` is K_X^2 (N x N) for α = 2 up to 4096 samples, so that no cell recomputes it.
    """

    z: np.ndarray
    width: float
    entropy: float
    squared_gram: np.ndarray | None = None


class RenyiMIEstimator(MIEstimator):
    """Matrix-based Rényi α-order I(X;T) and I(T;Y) (Giraldo et al. 2015; Yu et al. 2020).

    A Gaussian kernel over the layer's samples gives the Gram matrix K_T (ones on the
    diagonal), ``A_T = K_T / N``, and ``S_α(T) = log2(tr(A_T^α)) / (1 - α)`` bits. The labels
    enter through the class-equality kernel ``[y_i == y_j]`` (the linear kernel of one-hot
    labels), whose entropy is the Rényi entropy of the label frequencies; the inputs through
    a Gaussian kernel of their own. Then

    ``I(X;T) = S(X) + S(T) - S(X, T)`` with the inputs as X when ``x`` is given, else
    ``I(X;T) = S(T)`` (X the sample itself, the deterministic case of binning), and
    ``I(T;Y) = S(T) + S(Y) - S(T, Y)``, joint entropies of Hadamard products.

    Parameters
    ----------
    alpha : float, default=2.0
        Order α > 0. α = 2 is computed from sums of squared Gram entries, O(N^2 d) and no
        eigendecomposition; other orders decompose N x N matrices (O(N^3)). α = 1 is the
        von Neumann (Shannon-like) limit; Yu et al. and Wickstrøm et al. use 1.01.
    kernel_width : {"median", "silverman"} or float, default="median"
        The Gaussian kernel's width sigma, for each (epoch, layer) cell and for the inputs:
        ``"median"``, ``width_factor`` times the median distance between samples (the median
        heuristic of kernel methods); ``"silverman"``, ``width_factor`` times Silverman's
        rule (as Yu et al.); both scale with the values (:func:`kernel_width_of`). A number
        fixes sigma for every layer and the inputs, in their units.
    width_factor : float, optional
        Multiple of the rule: default 0.35 for ``"median"`` (the kernel is e^-4 at the median
        distance), 1.0 for ``"silverman"``; not with a fixed width. Larger widths merge more
        samples: the resolution of the estimate.
    conv_kernel : {"tensor", "channels"}, default="tensor"
        For a C x H x W feature map (``map_shape``): ``"tensor"``, one Gaussian kernel over
        the whole tensor (Wickstrøm et al.; the same as a kernel over the flattened map with
        one width), or ``"channels"``, one kernel per channel with its own width, joined by
        the Hadamard product (the multivariate entropy of Yu et al. 2020).
    map_shape : tuple of int, optional
        The per-sample shape (C, H, W) of a flattened feature map ``t``; the information
        plane fills it in from the layer's shape.
    chunk_size : int, optional
        Rows per block of the α = 2 sums (default: 2**20 elements per block on CPU, 2**24 on CUDA).
    device : str, optional
        Torch device; default ``"cuda"`` when available, else ``"cpu"``.

    Attributes
    ----------
    i_xt_, i_ty_ : float
        I(X;T) and I(T;Y) in bits.
    h_y_ : float
        Ceiling of I(T;Y): S_α(Y), the Rényi entropy of the label frequencies (Shannon's
        H(Y) for α = 1 or balanced classes).
    log2_n_ : float
        Ceiling of I(X;T): log2(N).
    entropy_t_, entropy_x_ : float
        S_α(T) and S_α(X) (NaN without inputs), in bits.
    kernel_width_, kernel_width_x_ : float
        Sigma of T (of its first channel with ``"channels"``) and of X (NaN without inputs).
    kernel_ : str
        What the kernel ran over: ``"vector 64"``, ``"tensor 16x4x4"``, ``"channels 16x(4x4)"``.
    x_variable_ : {"input", "sample"}
        ``"input"`` when X was the inputs, ``"sample"`` when I(X;T) = S(T).
    saturated_ : bool
        True when S(T) is within 1e-3 bits of log2(N): the kernel resolves every sample.

    Notes
    -----
    Not Shannon's mutual information: a functional of the Gram spectrum that behaves like
    Rényi's entropy of the data seen at the kernel's resolution (a wider kernel merges more
    samples). Known answers for every α, with a fixed width much smaller than the gaps:
    k groups of identical points give log2(k); if T determines Y, I(T;Y) = S(Y). Units: bits.

    References
    ----------
    .. [1] L. G. Sanchez Giraldo, M. Rao and J. C. Principe, "Measures of entropy from data
       using infinitely divisible kernels", IEEE Trans. Inf. Theory 61(1):535-548, 2015.
    .. [2] S. Yu, K. Wickstrøm, R. Jenssen and J. C. Principe, "Understanding convolutional
       neural networks with information theory: an initial exploration", IEEE TNNLS
       32(1):435-442, 2020.
    .. [3] K. Wickstrøm, S. Løkse, M. Kampffmeyer, S. Yu, J. C. Principe and R. Jenssen,
       "Analysis of deep convolutional neural networks using tensor kernels and matrix-based
       entropy", Entropy 25(6):899, 2023 (arXiv:1909.11396, 2019).
    .. [4] A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf and A. Smola, "A kernel
       two-sample test", JMLR 13:723-773, 2012 (the median heuristic).
    """

    name = "renyi"
    uses_inputs = True
    runtime_params = frozenset({"chunk_size", "device"})
    saturation_fix = "use a wider kernel (width_factor / --width-factor, or kernel_width / --kernel-width)"
    cell_outputs = ("entropy_t", "entropy_x", "kernel_width", "kernel_width_x")
    layer_notes = ("kernel",)

    def __init__(
        self,
        alpha: float = DEFAULT_ALPHA,
        kernel_width: float | str = DEFAULT_WIDTH_RULE,
        width_factor: float | None = None,
        conv_kernel: str = "tensor",
        map_shape: tuple[int, ...] | None = None,
        chunk_size: int | None = None,
        device: str | None = None,
    ) -> None:
        self.alpha = alpha
        self.kernel_width = kernel_width
        self.width_factor = width_factor
        self.conv_kernel = conv_kernel
        self.map_shape = map_shape
        self.chunk_size = chunk_size
        self.device = device

    def get_params(self) -> dict[str, Any]:
        alpha = _check_positive_float("alpha", self.alpha)
        width_factor: float | None = None
        if isinstance(self.kernel_width, str):
            if self.kernel_width not in WIDTH_RULES:
                raise EstimatorError(
                    f"kernel_width must be 'median', 'silverman' or a positive number, got {self.kernel_width!r}."
                )
            kernel_width: float | str = self.kernel_width
            factor = WIDTH_RULES[kernel_width] if self.width_factor is None else self.width_factor
            width_factor = _check_positive_float("width_factor", factor)
        else:
            kernel_width = _check_positive_float("kernel_width", self.kernel_width)
            if self.width_factor is not None:
                raise EstimatorError("width_factor scales a width rule ('median', 'silverman'); with a fixed kernel_width leave it out.")
        if self.conv_kernel not in CONV_KERNELS:
            raise EstimatorError(f"conv_kernel must be 'tensor' or 'channels', got {self.conv_kernel!r}.")
        map_shape = None
        if self.map_shape is not None:
            try:
                map_shape = [int(s) for s in self.map_shape]
            except (TypeError, ValueError):
                raise EstimatorError(f"map_shape must be a tuple of sizes such as (16, 4, 4), got {self.map_shape!r}.") from None
            if len(map_shape) < 2 or min(map_shape) < 1:
                raise EstimatorError(f"map_shape must be (channels, ...) sizes >= 1, got {self.map_shape!r}.")
        chunk_size = None if self.chunk_size is None else _check_int("chunk_size", self.chunk_size, 1)
        if self.device is not None and not isinstance(self.device, str):
            raise EstimatorError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}.")
        return {
            "alpha": alpha,
            "kernel_width": kernel_width,
            "width_factor": width_factor,
            "conv_kernel": self.conv_kernel,
            "map_shape": map_shape,
            "chunk_size": chunk_size,
            "device": self.device,
        }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """E.g. ``"renyi: alpha=2, width 0.35 x median distance, tensor kernels"``."""
        rule = params["kernel_width"]
        if rule == "median":
            width = f"width {_fmt(params['width_factor'])} x median distance"
        elif rule == "silverman":
            width = f"width {_fmt(params['width_factor'])} x Silverman's rule"
        else:
            width = f"kernel width {_fmt(rule)}"
        return f"renyi: alpha={_fmt(params['alpha'])}, {width}, {params['conv_kernel']} kernels"

    @classmethod
    def layer_params(
        cls, params: dict[str, Any], values: np.ndarray, shape: tuple[int, ...] | None = None
    ) -> dict[str, Any]:
        """A flattened feature map's (C, H, W) shape, so its kernel is described (and per channel if asked)."""
        if shape is not None and len(shape) >= 2 and math.prod(shape) == values.shape[-1]:
            return {**params, "map_shape": [int(s) for s in shape]}
        return params

    # -- estimation -----------------------------------------------------------------------

    def prepare_inputs(self, x: np.ndarray) -> InputSide:
        """The inputs (n_samples, d) as X: scaled by their kernel width, with S_α(X)."""
        params = self.get_params()
        device = resolve_device(self.device, EstimatorError)
        z = _centred(x, device)
        width = self._width(z, params)
        z = _divided(z, [width], 1)
        n = z.shape[0]
        if params["alpha"] == 2.0 and n <= _MAX_KEPT_INPUT_GRAM:
            squared = gram_distances(z).neg_().exp_()  # K_X^2, read by every cell
            s_x = 2.0 * math.log2(n) - math.log2(float(squared.sum()))
            return InputSide(z=z.cpu().numpy(), width=width, entropy=s_x, squared_gram=squared.cpu().numpy())
        s_x, _, _ = self._entropies(z, None, None, 0, params, device)
        return InputSide(z=z.cpu().numpy(), width=width, entropy=s_x)

    def _fit_checked(self, t: np.ndarray, y_ids: IntArray, n_classes: int, inputs: Any = None) -> Self:
        import torch

        params = self.get_params()
        device = resolve_device(self.device, EstimatorError)
        n = t.shape[0]
        z_t, widths, self.kernel_ = self._scaled_t(t, params, device)
        z_x = squared_x = None
        if inputs is not None and inputs.squared_gram is not None and params["alpha"] == 2.0:
            squared_x = torch.as_tensor(inputs.squared_gram, device=device)
        elif inputs is not None:
            z_x = torch.as_tensor(inputs.z, device=device)
        s_t, s_xt, s_ty = self._entropies(z_t, z_x, y_ids, n_classes, params, device, squared_x)
        self.log2_n_ = math.log2(n)
        self.h_y_ = label_entropy(y_ids, n_classes, params["alpha"])
        self.entropy_t_ = s_t
        self.kernel_width_ = widths[0]
        assert s_ty is not None
        # clip into [0, ceiling]: the entropies are exact, their differences round by ~1e-15
        self.i_ty_ = min(max(s_t + self.h_y_ - s_ty, 0.0), self.h_y_)
        if inputs is None:
            self.x_variable_ = "sample"
            self.i_xt_ = min(max(s_t, 0.0), self.log2_n_)
            self.entropy_x_ = self.kernel_width_x_ = math.nan
        else:
            assert s_xt is not None
            self.x_variable_ = "input"
            self.i_xt_ = min(max(inputs.entropy + s_t - s_xt, 0.0), self.log2_n_)
            self.entropy_x_, self.kernel_width_x_ = inputs.entropy, inputs.width
        self.saturated_ = self.log2_n_ - s_t <= _SATURATION_TOL
        return self

    def null_i_ty(self, t: np.ndarray, labelings: Sequence[IntArray], n_classes: int) -> np.ndarray:
        """I(T;Y) under each labeling; for alpha = 2 all labelings in one pass over K_T (no X)."""
        params = self.get_params()
        if params["alpha"] != 2.0:
            return super().null_i_ty(t, labelings, n_classes)
        device = resolve_device(self.device, EstimatorError)
        z_t, _, _ = self._scaled_t(t, params, device)
        block = _BLOCK_ELEMENTS_CUDA if device.type == "cuda" else _BLOCK_ELEMENTS
        n = z_t.shape[0]
        chunk = min(n, params["chunk_size"] or max(1, block // n))
        s_t, _, s_ty = quadratic_entropies(z_t, None, np.stack(labelings), n_classes, chunk)
        h_y = np.array([label_entropy(ids, n_classes, 2.0) for ids in labelings])
        return np.minimum(np.maximum(s_t + h_y - s_ty, 0.0), h_y)

    def _entropies(
        self,
        z_t: Any,
        z_x: Any,
        y_ids: IntArray | None,
        n_classes: int,
        params: dict[str, Any],
        device: Any,
        squared_x: Any = None,
    ) -> tuple[float, float | None, float | None]:
        n = z_t.shape[0]
        if params["alpha"] == 2.0:
            block = _BLOCK_ELEMENTS_CUDA if device.type == "cuda" else _BLOCK_ELEMENTS
            chunk = min(n, params["chunk_size"] or max(1, block // n))
            return quadratic_entropies(z_t, z_x, y_ids, n_classes, chunk, squared_x)
        if n > _MAX_SPECTRAL_SAMPLES:
            raise EstimatorError(
                f"alpha={_fmt(params['alpha'])} decomposes {n} x {n} matrices, too large; use alpha=2 "
                f"(no eigendecomposition) or at most {_MAX_SPECTRAL_SAMPLES} samples (--max-samples)."
            )
        return spectral_entropies(z_t, z_x, y_ids, n_classes, params["alpha"])

    @staticmethod
    def _width(z: Any, params: dict[str, Any]) -> float:
        rule = params["kernel_width"]
        if isinstance(rule, str):
            return kernel_width_of(z, rule, params["width_factor"])
        return float(rule)

    def _scaled_t(self, t: np.ndarray, params: dict[str, Any], device: Any) -> tuple[Any, list[float], str]:
        """T centred and divided by its kernel width (per channel with "channels"), the widths, the description."""
        shape = params["map_shape"]
        d = t.shape[1]
        if shape is not None and math.prod(shape) != d:
            raise EstimatorError(f"map_shape {tuple(shape)} has {math.prod(shape)} values but t has {d} units per sample.")
        z = _centred(t, device)
        if shape is None or params["conv_kernel"] == "tensor":
            width = self._width(z, params)
            kind = "vector" if shape is None else "tensor"
            return _divided(z, [width], 1), [width], f"{kind} {d if shape is None else 'x'.join(map(str, shape))}"
        channels = shape[0]
        per_channel = z.reshape(z.shape[0], channels, -1)
        widths = [self._width(per_channel[:, c], params) for c in range(channels)]
        rest = "x".join(str(s) for s in shape[1:])
        return _divided(z, widths, channels), widths, f"channels {channels}x({rest})"


def _centred(values: np.ndarray, device: Any) -> torch.Tensor:
    """The rows as a float64 tensor on ``device``, minus their mean (distances keep more digits)."""
    import torch

    z = torch.as_tensor(np.ascontiguousarray(values), device=device).to(torch.float64)
    return z - z.mean(dim=0, keepdim=True)


def _divided(z: torch.Tensor, widths: list[float], groups: int) -> torch.Tensor:
    """``z`` divided by its width per group of columns (channels); a zero width (constant group) gives 0."""
    import torch

    scale = torch.tensor([1.0 / w if w > 0 else 0.0 for w in widths], dtype=z.dtype, device=z.device)
    return (z.reshape(z.shape[0], groups, -1) * scale[None, :, None]).reshape(z.shape[0], -1)
