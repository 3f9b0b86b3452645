"""Event-loop stalls of the real window during a full analysis of the default sample, against idle.

Opens ``sample_path("digits_mlp")`` (1797 digits, every saved epoch, 3 hidden layers) in the real
`MainWindow` with t-SNE chosen and waits until every job has ended: extraction, the PCA preview,
the information plane, t-SNE with live snapshots, the layer probes. As the app does before the
user acts, the heavy libraries are warmed up first and the native thread pools are capped
(`warm_up`, `reserve_gui_core`); the analysis starts from an empty, temporary cache.

A ``PreciseTimer`` heartbeat (10 ms) runs in the GUI thread; each gap between two of its ticks
is how long the event loop could not answer the user. The same heartbeat measured on the same
window, shown with no run, for ``--idle`` seconds just before is the baseline: its gaps are what
the machine's scheduler alone costs, so the ratios compare like with like on a busy machine.

Reports the worst gap, the 99th percentile and the number of gaps over 100 ms for both, and
their ratios, in one line; writes a figure of the gaps over time with the analysis stage (from
the status bar) shaded. Goal (not a test: see tests/gui/test_responsiveness.py for what is
tested): no gap over 100 ms during the analysis on a quiet machine.

    python benchmarks/bench_responsiveness.py [OUT.png] [--idle 10] [--method tsne]
                                              [--platform auto|xvfb|offscreen]

Needs a display; without one it starts Xvfb (as pytest-xvfb does, through PyVirtualDisplay)
or, where Xvfb is missing, uses Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEARTBEAT_MS = 10
STALL_MS = 100.0
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "responsiveness.png"

#: status-bar prefixes of the analysis stages, in the order they run (first match wins)
STAGES = (
    ("Opening", "open"),
    ("Extracting", "extraction"),
    ("activations", "extraction"),
    ("PCA", "PCA preview"),
    ("Information plane", "information plane"),
    ("t-SNE", "t-SNE"),
    ("UMAP", "UMAP"),
    ("Layer probes", "probes"),
)


def stage_of(message: str, previous: str) -> str:
    for prefix, stage in STAGES:
        if message.startswith(prefix):
            return stage
    return previous


@dataclass
class Heartbeat:
    """Gaps (ms) between ticks of a timer in the GUI thread, each with the stage it ended in."""

    times: list[float] = field(default_factory=list)  # seconds since the heartbeat started, at each tick
    gaps: list[float] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        gaps = np.asarray(self.gaps)
        return {"worst": float(gaps.max()), "p99": float(np.percentile(gaps, 99)),
                "stalls": int((gaps > STALL_MS).sum()), "ticks": len(gaps)}  # fmt: skip


def beat(stage_source: Callable[[str], str], until: Callable[[], bool]) -> Heartbeat:
    """Run the event loop with a heartbeat until ``until()`` is true; ``stage_source(previous)`` names the stage."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    record = Heartbeat()
    loop = QEventLoop()
    start = last = time.perf_counter()
    stage = ["idle"]

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        stage[0] = stage_source(stage[0])
        record.times.append(now - start)
        record.gaps.append((now - last) * 1000.0)
        record.stages.append(stage[0])
        last = now
        if until():
            loop.quit()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(HEARTBEAT_MS)
    timer.timeout.connect(tick)
    timer.start()
    loop.exec()
    timer.stop()
    return record


def start_display(platform: str):  # noqa: ANN201 - a pyvirtualdisplay.Display or None
    if platform == "offscreen" or (platform == "auto" and not os.environ.get("DISPLAY") and not shutil.which("Xvfb")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    if platform == "xvfb" or (platform == "auto" and not os.environ.get("DISPLAY")):
        from pyvirtualdisplay import Display

        display = Display(visible=False, size=(1600, 1000), color_depth=24)
        display.start()
        return display
    return None


def measure(method: str, idle_s: float) -> tuple[Heartbeat, Heartbeat, float, str]:
    """(idle heartbeat, analysis heartbeat, analysis seconds, Qt platform)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench_responsiveness"])
    # the GUI's own entry points (kept together: the window's jobs are being reorganised)
    from ibviewer.gui.analysis import OpenRequest, warm_up
    from ibviewer.gui.main_window import MainWindow
    from ibviewer.gui.state import ViewSettings
    from ibviewer.gui.views.style import configure_pyqtgraph
    from ibviewer.gui.workers import reserve_gui_core
    from ibviewer.samples import DEFAULT_SAMPLE, sample_path

    warm_up(method)
    reserve_gui_core()
    configure_pyqtgraph()
    window = MainWindow(ViewSettings(method=method), OpenRequest(path=""), show_dialogs=False, persist_layout=False)
    window.resize(1400, 900)
    window.show()
    for _ in range(20):
        app.processEvents()

    idle_deadline = time.perf_counter() + idle_s
    idle = beat(lambda stage: "idle", lambda: time.perf_counter() >= idle_deadline)

    finished = [False]
    window.idle.connect(lambda: finished.__setitem__(0, True))
    window.open_path(sample_path(DEFAULT_SAMPLE))
    started = time.perf_counter()
    analysis = beat(lambda stage: stage_of(window.status_message.text(), stage), lambda: finished[0])
    elapsed = time.perf_counter() - started
    if window.last_error is not None:
        raise SystemExit(f"the analysis failed: {window.last_error}")
    shown = {getattr(window.state.embedding(layer), "method", None) for layer in window.state.layer_names}
    if shown != {method} or window.state.probes is None or window.state.infoplane is None:
        raise SystemExit(f"the analysis did not complete: embeddings {shown}, probes/infoplane missing")
    window.close()
    return idle, analysis, elapsed, app.platformName()


def plot(idle: Heartbeat, analysis: Heartbeat, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offset = idle.times[-1] if idle.times else 0.0
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=120)
    t_idle = np.asarray(idle.times) - offset
    t_run = np.asarray(analysis.times)
    ax.plot(t_idle, idle.gaps, lw=0.7, color="#7f7f7f", label="idle (baseline)")
    ax.plot(t_run, analysis.gaps, lw=0.7, color="#1f77b4", label="full analysis")
    palette = ["#fde0dd", "#e5f5e0", "#deebf7", "#fff7bc", "#efedf5", "#fee6ce", "#e0f3f8", "#f0f0f0"]
    spans: list[tuple[str, float, float]] = [("idle", float(t_idle[0]), 0.0)] if len(t_idle) else []
    for t, stage in zip(t_run, analysis.stages):
        if spans and spans[-1][0] == stage:
            spans[-1] = (stage, spans[-1][1], float(t))
        else:
            spans.append((stage, spans[-1][2] if spans else 0.0, float(t)))
    colours: dict[str, str] = {}
    for stage, t0, t1 in spans:
        colour = colours.setdefault(stage, palette[len(colours) % len(palette)])
        ax.axvspan(t0, t1, color=colour, lw=0, zorder=0)
        if t1 - t0 > 0.03 * (t_run[-1] - t_idle[0]):
            ax.text((t0 + t1) / 2, 0.97, stage, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8)
    ax.axhline(STALL_MS, color="#d62728", ls="--", lw=0.8, label=f"{STALL_MS:.0f} ms")
    ax.axhline(HEARTBEAT_MS, color="#2ca02c", ls=":", lw=0.8, label=f"timer interval {HEARTBEAT_MS} ms")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the run was opened (idle baseline before 0)")
    ax.set_ylabel("gap between heartbeat ticks (ms)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.9), fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"figure (PNG); default {DEFAULT_OUT}")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle baseline (default 10)")
    parser.add_argument("--method", default="tsne", choices=("tsne", "umap", "pca"))
    parser.add_argument("--platform", default="auto", choices=("auto", "xvfb", "offscreen"))
    args = parser.parse_args()

    display = start_display(args.platform)
    scratch = tempfile.mkdtemp(prefix="bench_responsiveness_")
    os.environ["IBVIEWER_CACHE_DIR"] = str(Path(scratch) / "cache")  # nothing comes from an earlier run
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)  # leave the user's recent runs alone
    load_before = os.getloadavg()[0]
    try:
        idle, analysis, elapsed, platform = measure(args.method, args.idle)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if display is not None:
            display.stop()
    load_after = os.getloadavg()[0]
    i, a = idle.summary(), analysis.summary()
    line = (
        f"bench_responsiveness: {args.method}, analysis {elapsed:.1f} s ({platform}, {os.cpu_count()} cpus, "
        f"load {load_before:.1f}->{load_after:.1f}): worst gap {a['worst']:.0f} ms, p99 {a['p99']:.0f} ms, "
        f"{a['stalls']} gaps > {STALL_MS:.0f} ms of {a['ticks']} | idle {args.idle:.0f} s: worst {i['worst']:.0f} ms, "
        f"p99 {i['p99']:.0f} ms, {i['stalls']} > {STALL_MS:.0f} ms | ratio worst {a['worst'] / i['worst']:.1f}x, "
        f"p99 {a['p99'] / i['p99']:.1f}x | figure {args.out}"
    )
    title = line.split(": ", 1)[1].rsplit(" | figure", 1)[0].replace(" | ", "\n", 1)
    plot(idle, analysis, title, args.out)
    print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
