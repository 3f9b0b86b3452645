"""Issue 17, row 4: t-SNE of the playback keyframes (25 epochs x every layer, aligned) against one epoch.

The default sample's activations (digits_mlp: 1797 digits, 3 hidden layers; extracted or read
from the cache first, not timed): ``embed_keyframes`` as the GUI runs it (the evenly spaced
keyframe epochs, ``alignment="init"``: warm starts from the later keyframe, affinities reused
where a layer barely moved) against ``run_analysis``'s embedding of the last epoch alone (what
the first view computes). Both without the disk cache. Goal: <= 5x.

    python benchmarks/bench_keyframes.py [--keyframes 25] [--sample PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load  # noqa: E402

from ibviewer.core.config import AnalysisSettings, RunRequest  # noqa: E402
from ibviewer.core.embedding import embed_layers  # noqa: E402
from ibviewer.core.pipeline import embed_keyframes, open_and_extract  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyframes", type=int, default=25)
    parser.add_argument("--sample", help="a run folder (default: the default sample)")
    args = parser.parse_args()
    from ibviewer.gui.playback import keyframe_epochs  # noqa: PLC0415 - the GUI's choice of keyframes
    from ibviewer.samples import DEFAULT_SAMPLE, sample_path

    acts = open_and_extract(RunRequest(path=args.sample or str(sample_path(DEFAULT_SAMPLE)))).activations
    settings = AnalysisSettings(method="tsne")
    keys = keyframe_epochs(acts.epochs, args.keyframes)
    print(f"# bench_keyframes: {acts.n_samples} samples, {len(acts.layer_names)} layers, "
          f"{len(keys)} of {len(acts.epochs)} epochs ({load()} at start)\n")  # fmt: skip
    start = time.perf_counter()
    embed_layers(acts, epochs=(acts.epochs[-1],), faithfulness=True, use_cache=False, **settings.embedding_params())
    one = time.perf_counter() - start
    print(f"one epoch: {one:.1f} s ({load()})", flush=True)
    start = time.perf_counter()
    result = embed_keyframes(acts, settings, keys, use_cache=False)
    many = time.perf_counter() - start
    iters = [e.params.get("n_iter") for e in result.embeddings.values()]
    print(f"keyframes: {many:.1f} s ({load()})\n")
    print("| what | seconds | ratio |\n|---|---|---|")
    print(f"| one epoch, {len(acts.layer_names)} layers | {one:.1f} | 1 |")
    print(f"| {len(keys)} keyframes x {len(acts.layer_names)} layers | {many:.1f} | {many / one:.1f}x (goal <= 5x) |")
    print(f"\niterations per keyframe panel: median {sorted(iters)[len(iters) // 2]}, max {max(iters)}")


if __name__ == "__main__":
    main()
