"""Issue 17, row 7: View > 3D on the default sample (t-SNE): time to a 3-D view, and to the final one.

A fresh process opens the default sample in the real window (t-SNE, 2-D; the first view from
a cache filled by an untimed first process), switches to 3-D and times (a) until every layer
shows 3-D coordinates and (b) until the 3-D t-SNE is final. With ``--baseline-src DIR`` an
earlier checkout runs the same. Needs OpenGL (Xvfb: it runs under xvfb-run without a display).
Goal: (a) at once (well under a second beyond the event loop's own latency).

    python benchmarks/bench_3d_switch.py [--baseline-src DIR] [--timeout 600]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_playback_start import bench  # noqa: E402


def main() -> None:
    bench("3d", ("to a 3-D view", "to the final 3-D t-SNE"), ("first_3d", "final_3d"),
          "a 3-D view at once, refined in the background")  # fmt: skip


if __name__ == "__main__":
    main()
