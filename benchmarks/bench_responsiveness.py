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

    python benchmarks/bench_responsiveness.py [OUT.png] [--idle 10] [--method tsne] [--trace]
                                              [--busy N] [--niceness N] [--platform auto|xvfb|offscreen]

``--busy N`` runs N busy loops at normal priority through the whole measurement (baseline
included); ``--niceness`` overrides the worker threads' OS priority (the app lowers it to
`WORKER_NICENESS`), to weigh the GUI's responsiveness against how fast the analysis gets done.

Needs a display; without one it starts Xvfb (as pytest-xvfb does, through PyVirtualDisplay)
or, where Xvfb is missing, uses Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    #: gaps over STALL_MS: (time, gap, status message before it, stack samples of the GUI thread during it)
    stalls: list[tuple[float, float, str, list[str]]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        gaps = np.asarray(self.gaps)
        return {"worst": float(gaps.max()), "p99": float(np.percentile(gaps, 99)),
                "stalls": int((gaps > STALL_MS).sum()), "ticks": len(gaps)}  # fmt: skip


def beat(status: Callable[[], str], until: Callable[[], bool], stage: str, trace: bool = False) -> Heartbeat:
    """Run the event loop with a heartbeat until ``until()`` is true; ``status()`` is the status bar's text.

    With ``trace`` a watchdog thread samples the GUI thread's stack whenever a tick is overdue
    by ``STALL_MS`` (where the GUI thread was while the user waited; a worker holding the GIL
    in C code shows as the GUI thread waiting in harmless Python code).
    """
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    record = Heartbeat()
    loop = QEventLoop()
    start = last = time.perf_counter()
    state: dict[str, Any] = {"stage": stage, "message": status(), "samples": []}

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        gap = (now - last) * 1000.0
        record.times.append(now - start)
        record.gaps.append(gap)
        record.stages.append(state["stage"])  # the stage shown when the gap began
        if gap > STALL_MS:
            record.stalls.append((now - start, gap, state["message"], state["samples"]))
        state["message"], state["samples"] = status(), []
        state["stage"] = stage_of(state["message"], state["stage"])
        last = now
        if until():
            loop.quit()

    done = threading.Event()
    gui = threading.get_ident()

    def watchdog() -> None:
        while not done.wait(0.02):
            if (time.perf_counter() - last) * 1000.0 > STALL_MS:
                frame = sys._current_frames().get(gui)
                if frame is not None:
                    stack = traceback.format_stack(frame, limit=14)
                    state["samples"].append("".join(stack))

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(HEARTBEAT_MS)
    timer.timeout.connect(tick)
    timer.start()
    sampler = threading.Thread(target=watchdog, daemon=True) if trace else None
    if sampler is not None:
        sampler.start()
    loop.exec()
    done.set()
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


def measure(method: str, idle_s: float, trace: bool, niceness: int | None) -> tuple[Heartbeat, Heartbeat, float, str]:
    """(idle heartbeat, analysis heartbeat, analysis seconds, Qt platform)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench_responsiveness"])
    # the GUI's own entry points (kept together: the window's jobs are being reorganised)
    from ibviewer.gui.analysis import OpenRequest, warm_up
    from ibviewer.gui.main_window import MainWindow
    from ibviewer.gui.state import ViewSettings
    from ibviewer.gui.views.style import configure_pyqtgraph
    from ibviewer.gui import workers
    from ibviewer.gui.workers import reserve_gui_core
    from ibviewer.samples import sample_path

    if niceness is not None:
        workers.WORKER_NICENESS = niceness  # read by each worker thread as it starts

    warm_up(method)
    reserve_gui_core()
    configure_pyqtgraph()
    window = MainWindow(ViewSettings(method=method), OpenRequest(path=""), show_dialogs=False, persist_layout=False)
    window.resize(1400, 900)
    window.show()
    for _ in range(20):
        app.processEvents()

    idle_deadline = time.perf_counter() + idle_s
    idle = beat(lambda: "", lambda: time.perf_counter() >= idle_deadline, "idle", trace)

    finished = [False]
    window.idle.connect(lambda: finished.__setitem__(0, True))
    window.open_path(sample_path("digits_mlp"))  # the numbers in docs/performance.md
    started = time.perf_counter()
    analysis = beat(window.status_message.text, lambda: finished[0], "open", trace)
    elapsed = time.perf_counter() - started
    if window.last_error is not None:
        raise SystemExit(f"the analysis failed: {window.last_error}")
    shown = {getattr(window.state.embedding(layer), "method", None) for layer in window.state.layer_names}
    if shown != {method} or window.state.probes is None or window.state.infoplane is None:
        raise SystemExit(f"the analysis did not complete: embeddings {shown}, probes/infoplane missing")
    platform = app.platformName()
    # delete the window's C++ objects now: left to a later garbage collection (or to the exit),
    # pyqtgraph's items are destroyed out of order and crash the process (see ibviewer.gui.app)
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del window
    gc.collect()
    return idle, analysis, elapsed, platform


def plot(idle: Heartbeat, analysis: Heartbeat, title: str, out: Path) -> None:
    """Gaps over time on a log axis, stages shaded (legend), gaps over STALL_MS marked with their size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    offset = idle.times[-1] if idle.times else 0.0
    t_idle = np.asarray(idle.times) - offset
    t_run = np.asarray(analysis.times)
    fig, (ax, tail) = plt.subplots(1, 2, figsize=(13, 4.6), dpi=120, gridspec_kw={"width_ratios": [3.2, 1]})
    palette = ["#eeeeee", "#fde0dd", "#e5f5e0", "#deebf7", "#fff7bc", "#efedf5", "#fee6ce", "#e0f3f8", "#d9f0d3"]
    colours: dict[str, str] = {}
    spans: list[list[Any]] = []
    for times, stages in ((t_idle, idle.stages), (t_run, analysis.stages)):
        for i, (t, stage) in enumerate(zip(times, stages)):
            if spans and spans[-1][0] == stage:
                spans[-1][2] = float(t)
            else:
                begin = float(times[i - 1]) if i else (spans[-1][2] if spans else float(t))
                spans.append([stage, begin, float(t)])
    for stage, t0, t1 in spans:
        colour = colours.setdefault(stage, palette[len(colours) % len(palette)])
        ax.axvspan(t0, t1, color=colour, lw=0, zorder=0)
    ax.plot(t_idle, idle.gaps, lw=0.6, color="#7f7f7f", zorder=2)
    ax.plot(t_run, analysis.gaps, lw=0.6, color="#1f77b4", zorder=2)
    worst = sorted(analysis.stalls, key=lambda stall: -stall[1])[:3]
    for t, gap, _, _ in analysis.stalls:
        ax.plot([t], [gap], "o", ms=4, color="#d62728", zorder=3)
    for k, (t, gap, _, _) in enumerate(worst):
        ax.annotate(f"{gap:.0f} ms", (t, gap), xytext=(6, -4 - 9 * k), textcoords="offset points", fontsize=7,
                    color="#d62728")  # fmt: skip
    ax.axhline(STALL_MS, color="#d62728", ls="--", lw=0.8)
    ax.axhline(HEARTBEAT_MS, color="#2ca02c", ls=":", lw=0.8)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1.0, max(2 * STALL_MS, 1.5 * max(analysis.gaps + idle.gaps)))  # below 1 ms: a timer catching up
    ax.set_xlim(float(t_idle[0]) if len(t_idle) else 0.0, float(t_run[-1]))
    ax.set_xlabel("seconds since the run was opened (idle baseline before 0)")
    ax.set_ylabel("gap between heartbeat ticks (ms)")
    fig.suptitle(title, fontsize=9)
    handles = [Patch(color=colour, label=stage) for stage, colour in colours.items()]
    handles += [plt.Line2D([], [], color="#d62728", ls="--", lw=0.8, label=f"{STALL_MS:.0f} ms"),
                plt.Line2D([], [], color="#2ca02c", ls=":", lw=0.8, label=f"timer interval ({HEARTBEAT_MS} ms)")]  # fmt: skip
    ax.legend(handles=handles, loc="upper right", fontsize=7, title="stage", title_fontsize=7, ncol=2, framealpha=0.9)
    for record, colour, label in ((idle, "#7f7f7f", "idle"), (analysis, "#1f77b4", "analysis")):
        gaps = np.sort(np.asarray(record.gaps))
        tail.step(gaps, 1.0 - np.arange(len(gaps)) / len(gaps), where="post", color=colour, label=label)
    tail.axvline(STALL_MS, color="#d62728", ls="--", lw=0.8)
    tail.set_xscale("log")
    tail.set_xlim(left=1.0)
    tail.set_yscale("log")
    tail.set_xlabel("gap (ms)")
    tail.set_ylabel("fraction of ticks with a longer gap")
    tail.set_title("distribution of gaps", fontsize=9)
    tail.legend(fontsize=8)
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
    parser.add_argument("--trace", action="store_true", help="print where the GUI thread was during each gap > 100 ms")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="run N busy loops (child processes at normal priority) during the whole measurement")
    parser.add_argument("--niceness", type=int, default=None,
                        help="OS priority of the worker threads (default: the app's WORKER_NICENESS)")
    args = parser.parse_args()

    display = start_display(args.platform)
    scratch = tempfile.mkdtemp(prefix="bench_responsiveness_")
    os.environ["IBVIEWER_CACHE_DIR"] = str(Path(scratch) / "cache")  # nothing comes from an earlier run
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)  # leave the user's recent runs alone
    from ibviewer.gui.workers import WORKER_NICENESS

    niceness = WORKER_NICENESS if args.niceness is None else args.niceness
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    load_before = os.getloadavg()[0]
    try:
        idle, analysis, elapsed, platform = measure(args.method, args.idle, args.trace, niceness)
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        if display is not None:
            display.stop()
    load_after = os.getloadavg()[0]
    i, a = idle.summary(), analysis.summary()
    worst_stage = analysis.stages[int(np.argmax(analysis.gaps))]
    line = (
        f"bench_responsiveness: {args.method}, analysis {elapsed:.1f} s ({platform}, {os.cpu_count()} cpus, "
        f"{args.busy} busy loops, worker niceness {niceness}, load {load_before:.1f}->{load_after:.1f}): worst gap {a['worst']:.0f} ms ({worst_stage}), p99 {a['p99']:.0f} ms, "
        f"{a['stalls']} gaps > {STALL_MS:.0f} ms in {a['ticks']} ticks | idle {args.idle:.0f} s: worst {i['worst']:.0f} ms, "
        f"p99 {i['p99']:.0f} ms, {i['stalls']} > {STALL_MS:.0f} ms | ratio worst {a['worst'] / i['worst']:.1f}x, "
        f"p99 {a['p99'] / i['p99']:.1f}x | figure {args.out}"
    )
    title = line.split(": ", 1)[1].rsplit(" | figure", 1)[0].replace(" | ", "\n", 1)
    plot(idle, analysis, title, args.out)
    if args.trace:
        for t, gap, message, samples in analysis.stalls:
            print(f"--- {gap:.0f} ms gap ending at {t:.2f} s; status before it: {message!r}", file=sys.stderr)
            inside = [sample for sample in dict.fromkeys(samples) if "loop.exec()" not in sample.splitlines()[-1]]
            for sample in inside[:2]:  # the GUI thread's innermost frames while the user waited
                print(sample, file=sys.stderr)
    print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
