"""Information-plane estimators against the published algorithms, on the same activations.

1. Binning: ``compute_information_plane`` (vectorised, exact) against a re-implementation of
   the algorithm of Shwartz-Ziv & Tishby's IDNNs code (github.com/ravidziv/IDNNs,
   ``idnns/information/information_process.py``: ``get_information`` ->
   ``calc_information_for_epoch`` -> ``processInputIter`` -> ``calc_information_from_mat`` ->
   ``calc_condtion_entropy``): digitise with ``bins[np.digitize(x, bins) - 1]``, count rows
   through a per-row ``np.void`` view and ``np.unique``, and compute H(T|X) and H(T|Y) with
   one boolean mask over all N samples per distinct input / label (the O(N^2) loop).
   Goal: ratio >= 150, largest difference <= 1e-9 bits.
2. KDE: the chunked torch estimator against a plain numpy port of Saxe et al.'s ``kde.py``
   (full N x N squared-distance matrix, log-sum-exp per row), cell by cell, interleaved, best
   of several runs each (the machines are shared). Goal: >= 10x on CPU.
3. Rényi: ms per 4096-sample (epoch, layer) cell of ``compute_information_plane(acts, "renyi")``
   with the inputs as X, for alpha = 2 (sums of squared Gram entries) and alpha = 1.01 (torch
   eigvalsh), against a plain numpy reference on the same cells and kernel widths: dense N x N
   Gram matrices, ``numpy.linalg.eigvalsh`` of A_T, A_X o A_T and A_T o A_Y (and of A_X once),
   plus for alpha = 2 the dense numpy Frobenius sum. Reports the largest difference in bits.

Data: all 4096 12-bit inputs with the ib12 labels, pushed through a tanh network with hidden
widths 12, 10, 7, 5, 4, 3, 2 whose weights grow and drift over 100 "epochs" (seeded), so the
layers go from near-linear to saturated as in training.

    python benchmarks/bench_information.py [--original-epochs 10] [--kde-epochs 2] [--renyi-cells 2]

``--original-epochs`` (default 10; 0 = all) times the original on that many evenly spaced
epochs and scales its time linearly to all epochs (its cost per epoch is the same for every
epoch: it is dominated by the N masks of the conditional loop); the output says so. Two
deliberate favours to the original: its ``joblib.Parallel(n_jobs=NUM_CORES)`` over the 4096
inputs is run as a plain loop (no dispatch overhead), and it is given ``np.unique``'s inverse
flattened (NumPy >= 2 returns it in the input's shape, which the original code predates).
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import numpy as np

from ibviewer.core.datasets import ib12
from ibviewer.core.information import compute_information_plane
from ibviewer.core.types import ActivationSet, LayerInfo

WIDTHS = (12, 10, 7, 5, 4, 3, 2)


def make_activations(n_epochs: int, seed: int = 0) -> tuple[np.ndarray, ActivationSet]:
    """The 12-bit inputs and a seeded tanh network's activations over ``n_epochs``."""
    data = ib12()
    rng = np.random.default_rng(seed)
    x = data.x  # (4096, 12) float32 bits, as in the original's data files
    sizes = (x.shape[1], *WIDTHS)
    start = [rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    drift = [rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    values = {f"layer{k + 1}": np.empty((n_epochs, x.shape[0], w), np.float32) for k, w in enumerate(WIDTHS)}
    for e in range(n_epochs):
        progress = e / max(n_epochs - 1, 1)
        h = 2.0 * x.astype(np.float64) - 1.0
        for k, (w0, dw) in enumerate(zip(start, drift)):
            h = np.tanh(h @ ((1.0 + 4.0 * progress) * (w0 + progress * dw)))
            values[f"layer{k + 1}"][e] = h
    layers = tuple(LayerInfo(name, "Tanh", (v.shape[2],), v.shape[2]) for name, v in values.items())
    acts = ActivationSet(
        layers=layers,
        epochs=tuple(range(n_epochs)),
        values=values,
        labels=data.y,
        sample_idx=np.arange(x.shape[0]),
        key=f"bench-information-{n_epochs}-{seed}",
    )
    return x, acts


# ---------------------------------------------------------------------------------------------
# The original binning algorithm (re-implemented step by step from IDNNs)
# ---------------------------------------------------------------------------------------------


def _void_rows(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(np.dtype((np.void, array.dtype.itemsize * array.shape[1])))


def _original_entropy_of_rows(rows: np.ndarray, weight: float) -> float:
    """IDNNs calc_entropy_for_specipic_t: weight * H(rows) via a void view and np.unique."""
    _, counts = np.unique(_void_rows(rows), return_counts=True)
    p = np.asarray(counts / float(np.sum(counts)), dtype=np.float64)
    return weight * (-np.sum(p * np.log2(p)))


def _original_conditional_entropy(p_cond: np.ndarray, digitized: np.ndarray, inverse: np.ndarray) -> float:
    """IDNNs calc_condtion_entropy: one mask over all samples per condition value (O(N^2))."""
    return float(
        np.sum(
            [_original_entropy_of_rows(digitized[inverse == i, :], p_cond[i]) for i in range(p_cond.shape[0])]
        )
    )


def original_setup(x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """IDNNs get_information's preparation: p(x), p(y|x), p(y) over distinct rows."""
    onehot = np.eye(int(labels.max()) + 1)[labels].astype(np.float64)
    _, _, inverse_x, counts_x = np.unique(_void_rows(x), return_index=True, return_inverse=True, return_counts=True)
    inverse_x = inverse_x.reshape(-1)
    pxs = counts_x / float(np.sum(counts_x))
    p_y_given_x = np.array([np.mean(onehot[inverse_x == i, :], axis=0) for i in range(len(counts_x))]).T
    _, _, inverse_y, counts_y = np.unique(
        _void_rows(onehot), return_index=True, return_inverse=True, return_counts=True
    )
    return {
        "pxs": pxs,
        "pys1": counts_y / float(np.sum(counts_y)),
        "inverse_x": inverse_x,
        "inverse_y": inverse_y.reshape(-1),
        "p_y_given_x": p_y_given_x,
    }


def original_layer_information(data: np.ndarray, bins: np.ndarray, setup: dict[str, np.ndarray]) -> tuple[float, float]:
    """IDNNs processInputIter + calc_information_from_mat for one (epoch, layer)."""
    bins = bins.astype(np.float32)
    digitized = bins[np.digitize(np.squeeze(data.reshape(1, -1)), bins) - 1].reshape(len(data), -1)
    _, counts_t = np.unique(_void_rows(digitized), return_counts=True)
    p_ts = counts_t / float(sum(counts_t))
    h_t = -np.sum(p_ts * np.log2(p_ts))
    h_t_given_x = _original_conditional_entropy(setup["pxs"], digitized, setup["inverse_x"])
    h_t_given_y = _original_conditional_entropy(setup["pys1"], digitized, setup["inverse_y"])
    return float(h_t - h_t_given_x), float(h_t - h_t_given_y)


# ---------------------------------------------------------------------------------------------
# Plain numpy KDE (Saxe et al.'s kde.py, with numpy in place of Keras)
# ---------------------------------------------------------------------------------------------


def _numpy_mean_log_mass(d2: np.ndarray, var: float) -> np.ndarray:
    """Per row: log(mean_j exp(-d2_ij / (2 var))) by a max-shifted log-sum-exp."""
    scaled = -d2 / (2.0 * var)
    top = scaled.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1)) - np.log(d2.shape[1])


def numpy_kde(t: np.ndarray, labels: np.ndarray, noise_var: float) -> tuple[float, float, float, float]:
    """(I_xt_upper, I_ty_upper, I_xt_lower, I_ty_lower) in bits, all N x N at once."""
    t = t.astype(np.float64)
    sq = (t * t).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * t @ t.T, 0.0)
    results = []
    for var in (noise_var, 4.0 * noise_var):  # KL kernel, then Bhattacharyya (4x variance)
        h_all = -_numpy_mean_log_mass(d2, var).mean()
        h_cond = 0.0
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            h_cond += len(members) / len(labels) * -_numpy_mean_log_mass(d2[np.ix_(members, members)], var).mean()
        results.append((h_all / np.log(2), (h_all - h_cond) / np.log(2)))
    (xt_up, ty_up), (xt_lo, ty_lo) = results
    return xt_up, ty_up, xt_lo, ty_lo


# ---------------------------------------------------------------------------------------------
# Plain numpy matrix-based Rényi entropies (dense Gram matrices, numpy eigvalsh)
# ---------------------------------------------------------------------------------------------


def _numpy_gram(values: np.ndarray, width: float) -> np.ndarray:
    v = values.reshape(len(values), -1).astype(np.float64)
    v = v - v.mean(axis=0)
    sq = (v * v).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * v @ v.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    return np.exp(-d2 / (2.0 * width**2))


def numpy_renyi_entropy(k: np.ndarray, alpha: float) -> float:
    """S_alpha(K / tr K) in bits: numpy eigvalsh (alpha = 2 could skip it; this reference does not)."""
    lam = np.linalg.eigvalsh(k / np.trace(k))
    lam = lam[lam > 1e-12 * lam.max()]
    return float(np.log2((lam**alpha).sum()) / (1.0 - alpha))


def numpy_frobenius_entropy(k: np.ndarray) -> float:
    """S_2(K / tr K) = -log2 of the sum of squared entries, dense."""
    return float(-np.log2(((k / np.trace(k)) ** 2).sum()))


def numpy_renyi_cell(t, k_x, s_x, labels, alpha, width_t, entropy) -> tuple[float, float]:  # noqa: ANN001
    """(I(X;T), I(T;Y)) in bits of one cell, from dense matrices."""
    k_t = _numpy_gram(t, width_t)
    k_y = (labels[:, None] == labels[None, :]).astype(np.float64)
    s_t = entropy(k_t, alpha)
    s_y = entropy(k_y, alpha)
    return s_x + s_t - entropy(k_x * k_t, alpha), s_t + s_y - entropy(k_t * k_y, alpha)


def bench_renyi(x: np.ndarray, acts: ActivationSet, n_cells: int) -> None:
    """ms per cell of the renyi plane (inputs as X) for alpha 2 and 1.01, against dense numpy."""
    import torch

    cells = [(e, name) for e in np.unique(np.linspace(0, len(acts.epochs) - 1, n_cells).round().astype(int))
             for name in acts.layer_names[:1]]  # fmt: skip
    epochs = tuple(acts.epochs[e] for e, _ in cells)
    name = cells[0][1]
    sub = ActivationSet(
        tuple(layer for layer in acts.layers if layer.name == name), epochs,
        {name: acts.values[name][[e for e, _ in cells]]}, acts.labels, acts.sample_idx, f"{acts.key}-renyi",
    ).with_inputs(x)  # fmt: skip
    print(f"renyi: {acts.n_samples} samples, {len(cells)} cells (layer {name}, epochs {', '.join(map(str, epochs))}), "
          f"inputs as X, torch threads {torch.get_num_threads()}")
    compute_information_plane(sub, "renyi", device="cpu", use_cache=False)  # warm-up
    for alpha in (2.0, 1.01):
        start = time.perf_counter()
        plane = compute_information_plane(sub, "renyi", alpha=alpha, device="cpu", use_cache=False)
        ours = time.perf_counter() - start
        print(f"  alpha={alpha:g}: ibviewer compute_information_plane: {ours:.2f} s "
              f"({1e3 * ours / len(cells):.0f} ms/cell, S(X) computed once included)")
        width_x = float(plane.cell_outputs["kernel_width_x"][0, 0])
        references = [("numpy eigvalsh", numpy_renyi_entropy)]
        if alpha == 2.0:
            references.append(("numpy dense Frobenius", lambda k, _alpha: numpy_frobenius_entropy(k)))
        for label, entropy in references:
            start = time.perf_counter()
            k_x = _numpy_gram(x, width_x)
            s_x = entropy(k_x, alpha)
            max_diff = 0.0
            for row, (e, _) in enumerate(cells):
                width_t = float(plane.cell_outputs["kernel_width"][row, 0])
                i_xt, i_ty = numpy_renyi_cell(acts.values[name][e], k_x, s_x, acts.labels, alpha, width_t, entropy)
                max_diff = max(max_diff, abs(i_xt - plane.i_xt[row, 0]), abs(i_ty - plane.i_ty[row, 0]))
            theirs = time.perf_counter() - start
            print(f"    {label}: {theirs:.2f} s ({1e3 * theirs / len(cells):.0f} ms/cell): ratio {theirs / ours:.1f}x; "
                  f"largest difference {max_diff:.3g} bits")


def bench_binning(x: np.ndarray, acts: ActivationSet, original_epochs: int) -> None:
    n_epochs, names = len(acts.epochs), acts.layer_names
    n_cells = n_epochs * len(names)
    print(f"binning: {acts.n_samples} samples, layers of width {', '.join(map(str, WIDTHS))}, {n_epochs} epochs")
    compute_information_plane(acts, "binning", use_cache=False)  # warm-up (imports, allocator)
    ours_times = []
    for _ in range(3):
        start = time.perf_counter()
        plane = compute_information_plane(acts, "binning", use_cache=False)
        ours_times.append(time.perf_counter() - start)
    ours = min(ours_times)
    print(f"  ibviewer compute_information_plane (n_jobs=1): {ours:.3f} s for {n_cells} cells "
          f"({1e3 * ours / n_cells:.2f} ms/cell, best of 3)")

    subset = np.arange(n_epochs) if original_epochs in (0, n_epochs) else np.unique(
        np.linspace(0, n_epochs - 1, original_epochs).round().astype(int)
    )
    bins = np.linspace(-1, 1, 30)
    start = time.perf_counter()
    setup = original_setup(x, acts.labels)
    setup_time = time.perf_counter() - start
    start = time.perf_counter()
    max_diff = 0.0
    for e in subset:
        for k, name in enumerate(names):
            i_xt, i_ty = original_layer_information(acts.values[name][e], bins, setup)
            max_diff = max(max_diff, abs(i_xt - plane.i_xt[e, k]), abs(i_ty - plane.i_ty[e, k]))
    loop_time = time.perf_counter() - start
    scale = n_epochs / len(subset)
    original = setup_time + loop_time * scale
    note = "" if scale == 1 else f", epochs {len(subset)} of {n_epochs} timed and scaled x{scale:g}"
    print(f"  original algorithm (IDNNs, serial): setup {setup_time:.2f} s + {loop_time:.2f} s for "
          f"{len(subset) * len(names)} cells{note}")
    print(f"  original, all {n_cells} cells: {original:.1f} s{' (scaled estimate)' if scale != 1 else ''}")
    ratio = original / ours
    print(f"  ratio: {ratio:.0f}x (goal >= 150) {'MET' if ratio >= 150 else 'NOT MET'}")
    print(f"  largest difference over the {len(subset) * len(names)} compared cells: {max_diff:.3g} bits "
          f"(goal <= 1e-9) {'MET' if max_diff <= 1e-9 else 'NOT MET'}")


def bench_kde(acts: ActivationSet, kde_epochs: int, noise_var: float, repeats: int) -> None:
    """Per cell, interleaved: ours (best of ``repeats``) and plain numpy (best of 2)."""
    import torch

    from ibviewer.core.information import KDEMIEstimator

    n_epochs = len(acts.epochs)
    chosen = np.unique(np.linspace(0, n_epochs - 1, kde_epochs).round().astype(int))
    n_cells = len(chosen) * len(acts.layers)
    print(f"kde: noise variance {noise_var:g}, {acts.n_samples} samples, {n_cells} cells "
          f"(epochs {', '.join(str(acts.epochs[e]) for e in chosen)}), torch threads {torch.get_num_threads()}")
    estimator = KDEMIEstimator(noise_var=noise_var, device="cpu")
    estimator.fit(acts.values[acts.layer_names[0]][0], acts.labels)  # warm-up
    ours_total, plain_total, max_diff = 0.0, 0.0, 0.0
    for e in chosen:
        for name in acts.layer_names:
            t = acts.values[name][e]
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                estimator.fit(t, acts.labels)
                best = min(best, time.perf_counter() - start)
            ours_total += best
            best = math.inf
            for _ in range(2):
                start = time.perf_counter()
                theirs = numpy_kde(t, acts.labels, noise_var)
                best = min(best, time.perf_counter() - start)
            plain_total += best
            # ours clips into [0, ceiling]; compare on the same footing
            ceilings = (estimator.log2_n_, estimator.h_y_, estimator.log2_n_, estimator.h_y_)
            ours_cell = (estimator.i_xt_, estimator.i_ty_, estimator.i_xt_lower_, estimator.i_ty_lower_)
            for mine, other, top in zip(ours_cell, theirs, ceilings):
                max_diff = max(max_diff, abs(mine - min(max(other, 0.0), top)))
    ratio = plain_total / ours_total
    print(f"  ibviewer KDEMIEstimator (torch, chunked, symmetric, CPU): {ours_total:.2f} s "
          f"({1e3 * ours_total / n_cells:.0f} ms/cell, best of {repeats} per cell)")
    print(f"  plain numpy pairwise distances: {plain_total:.2f} s ({1e3 * plain_total / n_cells:.0f} ms/cell, best of 2)")
    print(f"  ratio: {ratio:.1f}x (goal >= 10 on CPU) {'MET' if ratio >= 10 else 'NOT MET'}; "
          f"largest difference {max_diff:.3g} bits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--original-epochs", type=int, default=10, help="epochs the original is timed on (0 = all)")
    parser.add_argument("--kde-epochs", type=int, default=2, help="epochs the kde comparison runs on")
    parser.add_argument("--noise-var", type=float, default=1e-3)
    parser.add_argument("--kde-repeats", type=int, default=3, help="best of this many runs of ours per cell")
    parser.add_argument("--skip-kde", action="store_true")
    parser.add_argument("--skip-binning", action="store_true")
    parser.add_argument("--renyi-cells", type=int, default=2, help="cells (epochs of the first layer) the renyi part times")
    parser.add_argument("--skip-renyi", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    # the wide early layers sit at log2(N) in many epochs; that is data, not a benchmark problem
    warnings.simplefilter("ignore", UserWarning)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at start; numpy {np.__version__}")
    x, acts = make_activations(args.epochs)
    if not args.skip_binning:
        bench_binning(x, acts, args.original_epochs)
    if not args.skip_kde:
        bench_kde(acts, args.kde_epochs, args.noise_var, args.kde_repeats)
    if not args.skip_renyi:
        bench_renyi(x, acts, args.renyi_cells)


if __name__ == "__main__":
    main()
