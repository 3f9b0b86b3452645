"""Matrix-based Rényi entropies of Gaussian Gram matrices, in torch (float64), CPU or CUDA.

The rows given here are already centred and divided by the kernel width, so the Gram matrix
is ``K_ij = exp(-||z_i - z_j||^2 / 2)`` with ones on the diagonal, and ``A = K / N`` has unit
trace. For α = 2 nothing is decomposed: ``tr(A^2)`` is the sum of the squared entries, and
``K_ij^2 = exp(-||z_i - z_j||^2)`` comes straight from the distances, one (chunk, N) block at a
time on and above the diagonal (memory bounded whatever N is). Other orders decompose the
matrices with a symmetric eigensolver, the matrices of one cell in one batched call.

The joint entropy with the labels uses the class-equality kernel ``[y_i == y_j]`` (the linear
kernel of one-hot labels): ``A_T ∘ A_Y`` is block diagonal by class, so its spectrum is the
union of the spectra of the per-class blocks of ``K_T / N``, each much smaller than N x N.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ibviewer.core.types import IntArray

if TYPE_CHECKING:
    import torch

# Relative size below which eigenvalues are rounding noise (see spectrum_entropy).
_EIGENVALUE_CUTOFF = 1e-12

__all__ = ["quadratic_entropies", "spectral_entropies", "label_entropy", "spectrum_entropy", "gram_distances"]


def label_entropy(y_ids: IntArray, n_classes: int, alpha: float) -> float:
    """S_α of the class-equality kernel: the Rényi entropy of the label frequencies, in bits."""
    p = np.bincount(y_ids, minlength=n_classes).astype(np.float64) / y_ids.shape[0]
    return _renyi_of_probabilities(p[p > 0], alpha)


def _renyi_of_probabilities(p: np.ndarray, alpha: float) -> float:
    if alpha == 1.0:
        return float(-(p * np.log2(p)).sum())
    return float(math.log2(float((p**alpha).sum())) / (1.0 - alpha))


def spectrum_entropy(eigenvalues: np.ndarray, alpha: float) -> float:
    """S_α = log2(sum λ^α) / (1 - α) (von Neumann's -sum λ log2 λ for α = 1) of a unit-trace spectrum.

    Eigenvalues below ``1e-12 * max λ`` count as 0: the solver's rounding (~N eps max λ,
    possibly negative) lives there, and for α < 1 their powers would add up to visible error;
    for α >= 1 what is dropped changes the entropy by less than 1e-10 bits.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    cutoff = _EIGENVALUE_CUTOFF * max(float(lam.max(initial=0.0)), 0.0)
    return _renyi_of_probabilities(lam[lam > cutoff], alpha)


def _augmented(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``[z_i, |z_i|^2, 1]`` and columns ``[-2 z_j, 1, |z_j|^2]``: their product is ||z_i - z_j||^2."""
    import torch

    sq = (z * z).sum(dim=1, keepdim=True)
    ones = torch.ones_like(sq)
    return torch.cat([z, sq, ones], dim=1), torch.cat([-2.0 * z, ones, sq], dim=1).T.contiguous()


def _squared_distances(left: torch.Tensor, right_t: torch.Tensor, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
    """||z_i - z_j||^2 for rows [start, stop) and columns [start, N) into ``out``, exact 0 on the diagonal."""
    import torch

    torch.mm(left[start:stop], right_t[:, start:], out=out)
    out.clamp_(min=0.0)  # cancellation can leave -1e-15 where rows coincide
    out[:, : stop - start].fill_diagonal_(0.0)
    return out


def quadratic_entropies(
    z_t: torch.Tensor,
    z_x: torch.Tensor | None,
    y_ids: IntArray | None,
    n_classes: int,
    chunk: int,
    squared_x: torch.Tensor | None = None,
) -> tuple[float, float | None, float | None]:
    """(S_2(T), S_2(X,T), S_2(T,Y)) in bits from sums of squared Gram entries, O(N^2 d), chunked.

    ``S_2(A) = -log2 tr(A^2)`` and ``tr(A^2) = sum_ij K_ij^2 / N^2`` for ``A = K / N``; the
    joint matrices ``K_T ∘ K_X / N`` and ``K_T ∘ [y_i == y_j] / N`` also have unit trace.
    Blocks: rows [s, e) against columns [s, N); the part right of the diagonal block stands
    for its mirror image too, so it is counted twice. ``z_x`` None skips S(X,T) unless
    ``squared_x``, the whole N x N matrix K_X^2 computed once for a plane, is given (then its
    blocks are read instead of recomputed); ``y_ids`` None skips S(T,Y). ``y_ids`` of shape
    (L, N), L labelings (the shuffled-label null), gives S(T,Y) for each, as an array, in the
    same pass.
    """
    import torch

    n = z_t.shape[0]
    device = z_t.device
    left_t, right_t = _augmented(z_t)
    left_x, right_x = _augmented(z_x) if z_x is not None else (None, None)
    onehot_t = None
    n_labelings = 1
    if y_ids is not None:
        ids = np.atleast_2d(np.asarray(y_ids))
        n_labelings = ids.shape[0]
        # labeling l's class c is row l * n_classes + c
        rows = torch.as_tensor((ids + n_classes * np.arange(n_labelings)[:, None]).reshape(-1), device=device)
        onehot_t = torch.zeros((n_labelings * n_classes, n), dtype=z_t.dtype, device=device)
        onehot_t[rows, torch.arange(n, device=device).repeat(n_labelings)] = 1.0
    totals = {"t": 0.0, "xt": 0.0}
    totals_ty = np.zeros(n_labelings)
    buffer_t = torch.empty(chunk * n, dtype=z_t.dtype, device=device)
    with_x = z_x is not None or squared_x is not None
    buffer_x = torch.empty(chunk * n, dtype=z_t.dtype, device=device) if with_x else None

    def both_sides(block: torch.Tensor, width: int) -> torch.Tensor:
        # the block's sum plus once more its part right of the diagonal block (the mirror image)
        return block.sum() + block[:, width:].sum()

    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            shape = (stop - start, n - start)
            width = stop - start
            squared = _squared_distances(left_t, right_t, start, stop, buffer_t[: shape[0] * shape[1]].view(shape))
            squared.neg_().exp_()  # K_T^2 = exp(-||z_i - z_j||^2)
            totals["t"] += float(both_sides(squared, width))
            if onehot_t is not None:
                # sum over same-class pairs: sum_c (1_c^T block 1_c), through the one-hot rows
                per_class = onehot_t[:, start:stop] @ squared
                same = per_class * onehot_t[:, start:]
                per_row = same.sum(dim=1) + same[:, width:].sum(dim=1)
                totals_ty += per_row.view(n_labelings, n_classes).sum(dim=1).cpu().numpy()
            if buffer_x is not None:
                joint = buffer_x[: shape[0] * shape[1]].view(shape)
                if squared_x is not None:
                    torch.mul(squared_x[start:stop, start:], squared, out=joint)  # (K_X ∘ K_T)^2
                else:
                    assert left_x is not None and right_x is not None
                    _squared_distances(left_x, right_x, start, stop, joint).neg_().exp_().mul_(squared)
                totals["xt"] += float(both_sides(joint, width))
    norm = 2.0 * math.log2(n)  # tr(A^2) = total / N^2
    s_t = norm - math.log2(totals["t"])
    s_xt = norm - math.log2(totals["xt"]) if with_x else None
    s_ty: Any = None
    if y_ids is not None:
        s_ty = norm - np.log2(totals_ty) if np.ndim(y_ids) == 2 else norm - math.log2(float(totals_ty[0]))
    return s_t, s_xt, s_ty


def gram_distances(z: torch.Tensor) -> torch.Tensor:
    """The N x N squared distances ||z_i - z_j||^2 (exact zeros on the diagonal)."""
    import torch

    n = z.shape[0]
    left, right_t = _augmented(z)
    return _squared_distances(left, right_t, 0, n, torch.empty((n, n), dtype=z.dtype, device=z.device))


def gram(z: torch.Tensor) -> torch.Tensor:
    """The N x N Gaussian Gram matrix exp(-||z_i - z_j||^2 / 2) (ones on the diagonal)."""
    return gram_distances(z).mul_(-0.5).exp_()


def spectral_entropies(
    z_t: torch.Tensor, z_x: torch.Tensor | None, y_ids: IntArray | None, n_classes: int, alpha: float
) -> tuple[float, float | None, float | None]:
    """(S_α(T), S_α(X,T), S_α(T,Y)) in bits from eigenvalues (symmetric eigensolver), O(N^3).

    ``A_T = K_T / N`` and ``A_X ∘ A_T`` renormalised (``K_X ∘ K_T / N``) are decomposed in one
    batched call; ``A_T ∘ A_Y`` by class blocks of ``K_T / N``.
    """
    import torch

    n = z_t.shape[0]
    with torch.no_grad():
        k_t = gram(z_t)
        matrices = [k_t]
        if z_x is not None:
            matrices.append(gram(z_x).mul_(k_t))
        spectra = torch.linalg.eigvalsh(torch.stack(matrices).div_(n)).cpu().numpy()
        s_ty = None
        if y_ids is not None:
            blocks = []
            for c in range(n_classes):
                idx = torch.as_tensor(np.flatnonzero(y_ids == c), device=z_t.device)
                if idx.numel():
                    blocks.append(torch.linalg.eigvalsh(k_t[idx][:, idx] / n).cpu().numpy())
            s_ty = spectrum_entropy(np.concatenate(blocks), alpha)
    s_t = spectrum_entropy(spectra[0], alpha)
    s_xt = spectrum_entropy(spectra[1], alpha) if z_x is not None else None
    return s_t, s_xt, s_ty
