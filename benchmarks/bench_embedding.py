"""Embedding speed: openTSNE (ours) vs scikit-learn TSNE, aligned vs independent layers, UMAP start-up.

(1) 2-D t-SNE of 10,000 x 128 points (ten Gaussian clusters): ibviewer's ``embed`` (openTSNE,
    FFT gradients) against scikit-learn's ``TSNE`` with its defaults, both seeded, with the
    trustworthiness (k=10) of each. Goal: >= 5x faster at trustworthiness within 0.01.
(2) A layer sequence (5 layers of 10,000 points, a random tanh MLP applied to the clusters):
    ``embed_layers(alignment="init")`` against independent embeddings (``alignment="none"``):
    total time and the mean displacement of points between consecutive layers.
(3) UMAP's first fit in a fresh process (a subprocess): with a cold and a warm numba
    on-disk cache, and after ``warm_up_umap``.
(4) What the tests check without a clock: a cache hit against computing the same panels, and
    how long t-SNE takes to stop once a cancel is asked, against the whole optimisation.
    Goals: a hit < 5% of computing; stopping < 2% of a full run (one callback interval).

Takes minutes (use --quick for smaller sizes). Writes a markdown table to stdout.

    python benchmarks/bench_embedding.py [--quick] [--skip-sklearn] [--skip-umap] [--only-cache-cancel] [--n-jobs N]

Run it on a quiet machine: scikit-learn's TSNE uses every core through OpenMP and slows down
far more than single-threaded openTSNE when other processes compete for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from ibviewer.core.embedding import embed, embed_layers, trustworthiness
from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.errors import Cancelled


def clusters(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(size=(10, dim)) * 4.0
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels.astype(np.int64)


def layer_sequence(x: np.ndarray, labels: np.ndarray, n_layers: int, seed: int = 0) -> ActivationSet:
    rng = np.random.default_rng(seed)
    widths = np.linspace(x.shape[1], 32, n_layers + 1).astype(int)[1:]
    h, values, infos = x.astype(np.float64), {}, []
    for i, width in enumerate(widths):
        w = rng.normal(size=(h.shape[1], width)) / np.sqrt(h.shape[1])
        h = np.tanh(h @ w * 0.5) * 3.0
        values[f"layer{i + 1}"] = h[None].astype(np.float32)
        infos.append(LayerInfo(f"layer{i + 1}", "Tanh", (int(width),), int(width)))
    return ActivationSet(tuple(infos), (0,), values, labels, np.arange(len(labels)), key="bench")


def displacement(embedding_set) -> float:  # noqa: ANN001
    """Mean distance a point moves between consecutive panels, each scaled to unit RMS radius."""
    panels = [e.coords.astype(np.float64) for e in embedding_set.embeddings.values()]
    normed = [(p - p.mean(0)) / np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()) for p in panels]
    return float(np.mean([np.linalg.norm(a - b, axis=1).mean() for a, b in zip(normed, normed[1:])]))


UMAP_CHILD = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
mode, n = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
from ibviewer.core.embedding import warm_up_umap, embed
import umap
t_import = time.perf_counter() - t0
t_warm = None
if mode == "warm_up":
    t_warm = warm_up_umap(background=False, large=n >= 4096)
rng = np.random.default_rng(0)
x = rng.normal(size=(n, 32)).astype(np.float32)
t1 = time.perf_counter(); embed(x, "umap", 2, seed=0); t_first = time.perf_counter() - t1
t2 = time.perf_counter(); embed(x, "umap", 2, seed=1); t_second = time.perf_counter() - t2
print(json.dumps({"import": t_import, "warm_up": t_warm, "first_fit": t_first, "second_fit": t_second}))
"""


def umap_fresh(mode: str, n: int, numba_cache: str) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache)
    out = subprocess.run([sys.executable, "-c", UMAP_CHILD, mode, str(n)], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


class CancelAt:
    """A progress that asks to stop at its n-th update and notes when."""

    def __init__(self, n_updates: int) -> None:
        self.n_updates = n_updates
        self.seen = 0
        self.asked_at: float | None = None

    def update(self, fraction: float, message: str = "") -> None:
        self.seen += 1
        if self.seen == self.n_updates:
            self.asked_at = time.perf_counter()

    def partial(self, result: object) -> None:
        pass

    def check_cancelled(self) -> None:
        if self.asked_at is not None:
            raise Cancelled()


def cache_and_cancel(x: np.ndarray, labels: np.ndarray) -> None:
    print("## (4) cache hit and cancellation, 2-D t-SNE\n")
    acts = layer_sequence(x, labels, 3)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        embed_layers(acts, method="tsne", cache_dir=cache_dir)
        t_compute = time.perf_counter() - start
        start = time.perf_counter()
        embed_layers(acts, method="tsne", cache_dir=cache_dir)
        t_hit = time.perf_counter() - start
    print("| what | seconds | ratio |\n|---|---|---|")
    print(f"| 3 panels computed | {t_compute:.2f} | 1 |")
    print(f"| the same 3 panels from the cache | {t_hit:.3f} | {t_hit / t_compute:.4f} (goal < 0.05) |")
    start = time.perf_counter()
    embed(x, "tsne", 2, seed=0)
    t_full = time.perf_counter() - start
    progress = CancelAt(n_updates=4)  # "nearest neighbours", then callbacks every 50 iterations
    try:
        embed(x, "tsne", 2, seed=0, progress=progress)
    except Cancelled:
        pass
    assert progress.asked_at is not None
    t_stop = time.perf_counter() - progress.asked_at
    print(f"| one t-SNE, {len(x)} points | {t_full:.2f} | 1 |")
    print(f"| stopping after a cancel | {t_stop:.3f} | {t_stop / t_full:.4f} (goal < 0.02) |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 points, 3 layers")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--only-cache-cancel", action="store_true", help="section (4) only")
    parser.add_argument("--n-jobs", type=int, default=1, help="openTSNE threads (scikit-learn uses all cores)")
    args = parser.parse_args()
    n = 2000 if args.quick else 10_000
    n_layers = 3 if args.quick else 5
    x, labels = clusters(n, 128)
    print(f"# bench_embedding ({'quick' if args.quick else 'full'}): n={n}, cpus={os.cpu_count()}\n")
    if args.only_cache_cancel:
        cache_and_cancel(x, labels)
        return

    print("## (1) 2-D t-SNE, ten clusters, 128-d\n")
    print("| implementation | seconds | trustworthiness (k=10) |\n|---|---|---|")
    start = time.perf_counter()
    ours = embed(x, "tsne", 2, seed=0, n_jobs=args.n_jobs)
    t_ours = time.perf_counter() - start
    tw_ours = trustworthiness(x, ours, 10, max_queries=2000)
    print(f"| ibviewer embed (openTSNE, {'FFT' if n >= 10_000 else 'BH'}, n_jobs={args.n_jobs}) | {t_ours:.1f} | {tw_ours:.4f} |")
    if not args.skip_sklearn:
        from sklearn.manifold import TSNE

        start = time.perf_counter()
        theirs = TSNE(random_state=0).fit_transform(x)
        t_sk = time.perf_counter() - start
        tw_sk = trustworthiness(x, theirs, 10, max_queries=2000)
        print(f"| scikit-learn TSNE (defaults) | {t_sk:.1f} | {tw_sk:.4f} |")
        print(f"\nspeed-up {t_sk / t_ours:.1f}x (goal >= 5x); trustworthiness difference {tw_ours - tw_sk:+.4f}")
        print("(trustworthiness estimated from the same 2,000 query points ranked against all points)\n")

    print(f"## (2) {n_layers} layers of {n} points, t-SNE 2-D\n")
    acts = layer_sequence(x, labels, n_layers)
    print("| alignment | total seconds | mean displacement between consecutive layers |\n|---|---|---|")
    for alignment in ("init", "procrustes", "none"):
        start = time.perf_counter()
        result = embed_layers(acts, method="tsne", alignment=alignment, faithfulness=False, use_cache=False)
        elapsed = time.perf_counter() - start
        print(f"| {alignment} | {elapsed:.1f} | {displacement(result):.3f} |")
    print()

    if not args.skip_umap:
        print("## (3) UMAP first fit in a fresh process\n")
        print("| points | numba cache | mode | import umap (s) | warm-up (s) | first fit (s) | second fit (s) |")
        print("|---|---|---|---|---|---|---|")
        for n_umap in (1000, 5000):
            with tempfile.TemporaryDirectory() as numba_cache:
                for cache_state, mode in (("cold", "plain"), ("warm", "plain"), ("warm", "warm_up")):
                    r = umap_fresh(mode, n_umap, numba_cache)
                    warm = f"{r['warm_up']:.1f}" if r["warm_up"] is not None else "-"
                    print(f"| {n_umap} | {cache_state} | {mode} | {r['import']:.1f} | {warm} | {r['first_fit']:.1f} | "
                          f"{r['second_fit']:.1f} |")  # fmt: skip
        print()

    cache_and_cancel(x, labels)


if __name__ == "__main__":
    main()
