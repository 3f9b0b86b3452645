"""Issue 17, row 6: the ``word_lm`` sample opened the first time (empty cache), ``--screenshot`` to final.

A fresh process under Xvfb opens ``sample_models/word_lm`` with an empty cache: extraction,
information plane, t-SNE of every layer, probes and the word experiment, until the window is
complete. With ``--baseline-src DIR`` an earlier checkout runs the same, interleaved.
Goal: <= 20 s.

    python benchmarks/bench_word_lm.py [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import env_for, gui_command, load, sources, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src")
    args = parser.parse_args()
    from ibviewer.samples import sample_path

    run = str(sample_path("word_lm"))
    print(f"# bench_word_lm ({load()} at start)\n\n| code | first open (s) |\n|---|---|")
    times = {}
    for name, src in sources(args.baseline_src):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            command = gui_command(["-m", "ibviewer", run, "--screenshot", f"{out}/w.png"])
            times[name], _ = timed(command, env_for(src, IBVIEWER_CACHE_DIR=cache), src, timeout=1800)
        print(f"| {name} | {times[name]:.1f} |", flush=True)
    if "baseline" in times:
        print(f"\nratio ours/baseline {times['this checkout'] / times['baseline']:.2f}")
    print(f"goal <= 20 s ({load()} at the end)")


if __name__ == "__main__":
    main()
