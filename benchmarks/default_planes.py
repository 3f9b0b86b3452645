"""What the default information plane of each bundled sample shows: the numbers behind issue 12's defaults.

    python benchmarks/default_planes.py [RUN ...] [--settings JSON] [--every K] [--cache-dir DIR]

For each run (default: the four bundled samples) computes the plane over every saved epoch (or
every K-th with ``--every``) under ``AnalysisSettings(**settings)`` (default: the defaults) and
prints one Markdown row per layer: I(X;T) and I(T;Y) at the first and last epoch, their ranges
over all epochs, the shuffled-label null of I(T;Y) (mean ± sd) first and last, and how many
cells are near the ceiling, saturated or DPI violations. ``--settings '{"range_mode": "fixed"}'``
gives the numbers of the old defaults (fixed [-1, 1] bins).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.information import compute_information_plane
from ibviewer.core.pipeline import open_and_extract, sample_inputs

SAMPLES = ("sample_models/digits_mlp", "sample_models/digits_relu", "sample_models/ib12_tanh", "sample_models/word_lm")


def report(path: str, settings: AnalysisSettings, every: int, cache_dir: str | None) -> None:
    opened = open_and_extract(RunRequest(path=path, cache_dir=cache_dir))
    acts = opened.activations
    if every > 1:
        keep = sorted({*range(0, len(acts.epochs), every), len(acts.epochs) - 1})
        acts = replace(acts, epochs=tuple(acts.epochs[i] for i in keep),
                       values={k: v[keep] for k, v in acts.values.items()}, key=f"{acts.key}-every{every}")  # fmt: skip
    inputs = sample_inputs(opened.run, acts.sample_idx)  # renyi's X, as ibviewer analyze passes it
    if inputs is not None:
        acts = replace(acts, inputs=inputs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plane = compute_information_plane(acts, settings.estimator, use_cache=False, **settings.estimator_params())
    seconds = time.perf_counter() - start
    near, dpi = plane.near_ceiling, plane.dpi_violation
    ranges = plane.value_ranges() or {}
    print(f"\n#### {opened.run.name}: {plane.label()}; N = {plane.n_samples}, log2 N = {plane.log2_n:.2f}, "
          f"H(Y) = {plane.h_y:.2f}, epochs {plane.epochs[0]} → {plane.epochs[-1]} ({len(plane.epochs)}), "
          f"{seconds:.1f} s\n")
    print("| layer | range | I(X;T) first → last | I(X;T) min–max | I(T;Y) first → last | null first → last | "
          "near ceiling | saturated | DPI |")
    print("|---|---|---|---|---|---|---|---|---|")
    n_e = len(plane.epochs)
    for k, name in enumerate(plane.layers):
        r = ranges.get(name)
        shown = f"[{r[0]:.2g}, {r[1]:.2g}]" if r else "–"
        print(
            f"| {name} | {shown} | {plane.i_xt[0, k]:.2f} → {plane.i_xt[-1, k]:.2f} | "
            f"{plane.i_xt[:, k].min():.2f}–{plane.i_xt[:, k].max():.2f} | {plane.i_ty[0, k]:.2f} → {plane.i_ty[-1, k]:.2f} | "
            f"{plane.i_ty_null[0, k]:.2f}±{plane.i_ty_null_sd[0, k]:.2f} → {plane.i_ty_null[-1, k]:.2f}±{plane.i_ty_null_sd[-1, k]:.2f} | "
            f"{int(near[:, k].sum())}/{n_e} | {int(plane.saturated[:, k].sum())}/{n_e} | {int(dpi[:, k].sum())}/{n_e} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", default=list(SAMPLES))
    parser.add_argument("--settings", default="{}", help="AnalysisSettings fields as JSON")
    parser.add_argument("--every", type=int, default=1, help="every K-th saved epoch (and the last)")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    settings = AnalysisSettings(**json.loads(args.settings))
    for path in args.runs:
        report(path, settings, args.every, args.cache_dir)


if __name__ == "__main__":
    main()
