"""Issue 17, row 5: Play pressed to the first frame moving (default sample, t-SNE), and to every keyframe.

A fresh process opens the default sample in the real window (t-SNE, cache filled for the
first view only: a first process computes it, untimed), waits for the first view, presses
Play and times (a) until the first panel has drawn two new frames and (b) until the playback
job has embedded every keyframe. With ``--baseline-src DIR`` an earlier checkout runs the
same, interleaved (runs past ``--timeout`` count as that). Goal: (a) <= 2 s.

    python benchmarks/bench_playback_start.py [--baseline-src DIR] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, env_for, gui_command, load, sources, timed  # noqa: E402

CHILD = str(Path(__file__).resolve().parent / "_window_child.py")


def window_run(action: str, src: Path, cache: str, timeout: float) -> dict[str, float | None]:
    from ibviewer.samples import DEFAULT_SAMPLE, sample_path

    run = str(sample_path(DEFAULT_SAMPLE))
    _, out = timed(gui_command([CHILD, action, run, cache, str(timeout)]), env_for(src), ROOT, timeout=timeout + 1800)
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def fmt(value: float | None, timeout: float) -> str:
    return f"> {timeout:.0f}" if value is None else f"{value:.1f}"


def bench(action: str, columns: tuple[str, str], keys: tuple[str, str], goal: str) -> None:
    """Parse ``--baseline-src``/``--timeout``, then one row per code: first view and the action's two times."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    parser.add_argument("--baseline-src")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    print(f"# {Path(sys.argv[0]).stem} ({load()} at start)\n")
    print(f"| code | first view (s) | {columns[0]} (s) | {columns[1]} (s) |\n|---|---|---|---|")
    for name, src in sources(args.baseline_src):
        with tempfile.TemporaryDirectory() as cache:
            window_run("none", src, cache, 1.0)  # fills the cache for the first view
            r = window_run(action, src, cache, args.timeout)
        print(f"| {name} | {fmt(r['first_view'], 0)} | {fmt(r[keys[0]], args.timeout)} | "
              f"{fmt(r[keys[1]], args.timeout)} |", flush=True)  # fmt: skip
    print(f"\ngoal: {goal} ({load()} at the end)")


def main() -> None:
    bench("play", ("Play to first frame moving", "Play to every keyframe"), ("first_frame", "all_keyframes"),
          "first frame moving <= 2 s")  # fmt: skip


if __name__ == "__main__":
    main()
