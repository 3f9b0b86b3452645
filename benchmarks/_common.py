"""What the issue-17 benchmarks share: the machine's load, running code from another checkout, xvfb.

Every benchmark compares against a baseline measured in the same run (another checkout of
ibviewer given with ``--baseline-src``, or the library ibviewer wraps), so its ratios hold
while absolute times swing with the load, which each prints before and after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    """The 1-minute load average and the cores, e.g. ``load 3.2 on 2 cpus``."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return f"{os.cpu_count()} cpus"
    return f"load {one:.1f} on {os.cpu_count()} cpus"


def env_for(src: Path, **extra: str) -> dict[str, str]:
    """The environment that makes a child process import ibviewer from ``src``."""
    env = dict(os.environ, PYTHONPATH=str(src), **extra)
    env.pop("QT_QPA_PLATFORM", None)
    return env


def gui_command(args: list[str]) -> list[str]:
    """``python ARGS`` under a virtual display (xvfb-run) when there is no display."""
    command = [sys.executable, *args]
    if os.environ.get("DISPLAY") or shutil.which("xvfb-run") is None:
        return command
    return ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]


def timed(command: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None) -> tuple[float, str]:
    """Seconds a command took (``inf`` past ``timeout``) and its output's last lines."""
    start = time.perf_counter()
    try:
        out = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf"), f"stopped after {timeout:.0f} s"
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return elapsed, (out.stdout + out.stderr)[-400:]


def sources(baseline: str | None) -> list[tuple[str, Path]]:
    """(name, source folder) pairs: this checkout, and the baseline's when given."""
    pairs = [("this checkout", ROOT)]
    if baseline:
        pairs.append(("baseline", Path(baseline).resolve()))
    return pairs
