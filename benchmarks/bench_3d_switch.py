"""Issue 17, row 7: View > 3D on the default sample (t-SNE): time to a 3-D view, and to the final one.

A fresh process opens the default sample in the real window (t-SNE, 2-D; the first view from
a cache filled by an untimed first process), switches to 3-D and times (a) until every layer
shows 3-D coordinates and (b) until the 3-D t-SNE is final. With ``--baseline-src DIR`` an
earlier checkout runs the same. Needs OpenGL (Xvfb: it runs under xvfb-run without a display).
Goal: (a) at once (well under a second beyond the event loop's own latency).

    python benchmarks/bench_3d_switch.py [--baseline-src DIR] [--timeout 600]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, sources  # noqa: E402
from bench_playback_start import fmt, window_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    print(f"# bench_3d_switch ({load()} at start)\n")
    print("| code | first view (s) | to a 3-D view (s) | to the final 3-D t-SNE (s) |\n|---|---|---|---|")
    for name, src in sources(args.baseline_src):
        with tempfile.TemporaryDirectory() as cache:
            window_run("none", src, cache, 1.0)
            r = window_run("3d", src, cache, args.timeout)
        print(f"| {name} | {fmt(r['first_view'], 0)} | {fmt(r['first_3d'], args.timeout)} | "
              f"{fmt(r['final_3d'], args.timeout)} |", flush=True)  # fmt: skip
    print(f"\ngoal: a 3-D view at once, refined in the background ({load()} at the end)")


if __name__ == "__main__":
    main()
