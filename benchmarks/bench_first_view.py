"""Issue 17, rows 1-2: process start to every panel final, ``ibviewer --screenshot`` of the default sample.

Each launch is a fresh process under Xvfb: first with an empty cache (extraction, information
plane, t-SNE, probes), then again with the cache that launch filled. With ``--baseline-src
DIR`` (a checkout of an earlier ibviewer, e.g. ``git worktree add /tmp/before <commit>``) the
same two launches of that code run interleaved with ours, and the ratios are ours / theirs.
Goals: <= 10 s empty, <= 2 s cached (quiet 2-core machine).

    python benchmarks/bench_first_view.py [--baseline-src DIR] [--repeats N] [--sample NAME]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import env_for, gui_command, load, sources, timed  # noqa: E402


def launch(src: Path, cache: str, out: str, sample: str | None) -> float:
    args = ["-m", "ibviewer", *([sample] if sample else []), "--screenshot", out]
    seconds, _ = timed(gui_command(args), env_for(src, IBVIEWER_CACHE_DIR=cache), src, timeout=1800)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", help="a checkout of the ibviewer to compare with")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sample", help="a run to open instead of the default sample (a path)")
    parser.add_argument("--filled-cache", help="only cached launches, with this cache folder (filled by both codes)")
    args = parser.parse_args()
    print(f"# bench_first_view ({load()} at start)\n")
    if args.filled_cache:
        cached_only(args)
        return
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for name, src in sources(args.baseline_src):
            with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
                empty = launch(src, cache, f"{out}/a.png", args.sample)
                cached = launch(src, cache, f"{out}/b.png", args.sample)
            rows.setdefault(name, []).append((empty, cached))
            print(f"{name}: empty cache {empty:.1f} s, cached {cached:.1f} s ({load()})", flush=True)
    print("\n| code | empty cache (s, best) | cached (s, best) |\n|---|---|---|")
    best = {name: (min(r[0] for r in runs), min(r[1] for r in runs)) for name, runs in rows.items()}
    for name, (empty, cached) in best.items():
        print(f"| {name} | {empty:.1f} | {cached:.1f} |")
    if "baseline" in best:
        ours, theirs = best["this checkout"], best["baseline"]
        print(f"\nratio ours/baseline: empty {ours[0] / theirs[0]:.2f}, cached {ours[1] / theirs[1]:.2f} "
              f"(goals <= 10 s and <= 2 s on a quiet machine; {load()} at the end)")  # fmt: skip


def cached_only(args: argparse.Namespace) -> None:
    """Cached launches only, interleaved, from a cache both codes have filled (their keys agree)."""
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeats):
            for name, src in sources(args.baseline_src):
                times.setdefault(name, []).append(launch(src, args.filled_cache, f"{out}/c.png", args.sample))
                print(f"{name}: cached {times[name][-1]:.1f} s ({load()})", flush=True)
    print("\n| code | cached launch (s, best) |\n|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {min(runs):.1f} |")
    if "baseline" in times:
        print(f"\nratio ours/baseline {min(times['this checkout']) / min(times['baseline']):.2f} ({load()} at the end)")


if __name__ == "__main__":
    main()
