"""The numbers behind docs/information.md's choice of estimator: binning, KDE and renyi on real runs.

    python benchmarks/renyi_planes.py [RUN ...] [--cnn DIR] [--layers-cnn L1,L2,...]

For each run (default: the four bundled samples, plus the small digits CNN of
``benchmarks/digits_cnn.py`` when ``--cnn`` names its folder) and each estimator at its
defaults (binning: 30 bins on [-1, 1]; kde: noise variance 1e-3; renyi: alpha 2, width 0.35 x
median distance, the inputs as X where the dataset has numeric inputs), prints I(X;T) and
I(T;Y) of every layer at the first and the last saved epoch, with the ceilings, and for renyi
the shuffled-label I(T;Y) (one seeded permutation) beside the real one. Markdown tables.
``--alpha 1.01`` runs the renyi columns at the papers' order instead.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace

import numpy as np

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.information import compute_information_plane
from ibviewer.core.pipeline import open_and_extract
from ibviewer.core.types import ActivationSet

SAMPLES = ("sample_models/digits_mlp", "sample_models/digits_relu", "sample_models/ib12_tanh", "sample_models/word_lm")
ESTIMATORS = ("binning", "kde", "renyi")


def first_and_last(acts: ActivationSet) -> ActivationSet:
    """The same activations at the first and the last saved epoch only."""
    keep = [0, len(acts.epochs) - 1]
    values = {name: array[keep] for name, array in acts.values.items()}
    return replace(acts, epochs=tuple(acts.epochs[i] for i in keep), values=values, key=acts.key + "-first-last")


def report(path: str, layers: tuple[str, ...] | None, cache_dir: str | None, alpha: float) -> None:
    opened = open_and_extract(RunRequest(path=path, layers=layers, cache_dir=cache_dir))
    acts = first_and_last(opened.activations)
    shuffled = replace(acts, labels=np.random.default_rng(0).permutation(acts.labels), key=acts.key + "-shuffled")
    e0, e1 = acts.epochs
    dims = {layer.name: "x".join(map(str, layer.shape)) for layer in acts.layers}
    print(f"\n### {opened.run.name}: N = {acts.n_samples}, log2 N = {np.log2(acts.n_samples):.2f}, "
          f"epochs {e0} -> {e1}, inputs as X: {'yes' if acts.inputs is not None else 'no (tokens)'}\n")
    planes = {}
    for estimator in ESTIMATORS:
        start = time.perf_counter()
        settings = AnalysisSettings(estimator=estimator, alpha=alpha)
        planes[estimator] = compute_information_plane(acts, estimator, use_cache=False, **settings.estimator_params())
        print(f"<!-- {estimator}: {time.perf_counter() - start:.1f} s for {2 * len(acts.layers)} cells -->")
    null = compute_information_plane(shuffled, "renyi", alpha=alpha, use_cache=False)
    ceilings = ", ".join(f"{name} H(Y) = {plane.h_y:.2f}" for name, plane in planes.items())
    print(f"ceilings: {ceilings}\n")
    print("| layer | shape | binning I(X;T) | binning I(T;Y) | kde I(X;T) | kde I(T;Y) | renyi I(X;T) | renyi I(T;Y) | renyi I(T;Y) shuffled |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, name in enumerate(acts.layer_names):
        cells = [f"{p.i_xt[0, k]:.2f} → {p.i_xt[1, k]:.2f} | {p.i_ty[0, k]:.2f} → {p.i_ty[1, k]:.2f}" for p in planes.values()]
        print(f"| {name} | {dims[name]} | {' | '.join(cells)} | {null.i_ty[0, k]:.2f} → {null.i_ty[1, k]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=list(SAMPLES))
    parser.add_argument("--cnn", default=None, help="folder of the digits CNN run (benchmarks/digits_cnn.py)")
    parser.add_argument("--layers-cnn", default="features.1,features.3,features.4,head.2")
    parser.add_argument("--cache-dir", default=None, help="activation cache folder")
    parser.add_argument("--alpha", type=float, default=2.0, help="renyi's order (default 2)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # layers at the ceiling: the tables show them
    for path in args.runs:
        report(path, None, args.cache_dir, args.alpha)
    if args.cnn:
        report(args.cnn, tuple(args.layers_cnn.split(",")), args.cache_dir, args.alpha)


if __name__ == "__main__":
    main()
