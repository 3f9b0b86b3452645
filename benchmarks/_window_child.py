"""Child process of the window benchmarks: open a run in the real window, then time one action.

    python benchmarks/_window_child.py none|play|3d RUN CACHE_DIR TIMEOUT_S

Prints one JSON line: seconds to the first view (not the point), to the action's first visible
result and to its end (``null`` past the timeout). Works with older checkouts too (it only uses
the window's public parts), so ``--baseline-src`` can run it against them.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from PySide6.QtWidgets import QApplication


def wait(app: QApplication, done, timeout: float) -> float | None:  # noqa: ANN001
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        app.processEvents()
        if done():
            return time.perf_counter() - start
        time.sleep(0.005)
    return None


def main() -> None:
    action, run, cache, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    from ibviewer.core.config import AnalysisSettings, RunRequest
    from ibviewer.gui.main_window import MainWindow
    from ibviewer.gui.widgets.style import configure_pyqtgraph

    app = QApplication.instance() or QApplication(["bench"])
    configure_pyqtgraph()
    window = MainWindow(AnalysisSettings(method="tsne"), RunRequest(path="", cache_dir=cache), show_dialogs=False,
                        persist_layout=False)  # fmt: skip
    window.resize(1400, 900)
    window.show()
    state = window.state
    window.open_path(run)
    first_view = wait(app, lambda: state.activations is not None and not window.is_busy() and not state.missing_results(),
                      1800)  # fmt: skip
    result = {"first_view": first_view}
    layer = state.layer_names[0]
    if action == "none":  # only the first view (fills the cache)
        pass
    elif action == "play":
        panel = window.embedding_view.panels[layer]
        seen: list[np.ndarray] = [np.array(panel.coords)]

        def moving() -> bool:  # two frames drawn after the click, neither of them the picture before it
            coords = panel.coords
            if coords is not None and window.playback.is_playing() and not np.array_equal(coords, seen[-1]):
                seen.append(np.array(coords))
            return len(seen) >= 3

        start = time.perf_counter()
        window.timeline.play_button.click()
        result["first_frame"] = wait(app, moving, timeout)
        runner = window.jobs.runner("playback")
        left = timeout - (time.perf_counter() - start)
        done = wait(app, lambda: not runner.is_running(), max(left, 0.0))
        result["all_keyframes"] = None if done is None else time.perf_counter() - start
    else:
        start = time.perf_counter()
        window.menus.view_3d_action.trigger()
        result["first_3d"] = wait(app, lambda: all(
            (c := state.coords(name)) is not None and c.shape[1] == 3 for name in state.layer_names), timeout)  # fmt: skip
        left = timeout - (time.perf_counter() - start)
        done = wait(app, lambda: not window.is_busy() and state.has_final_embeddings(), max(left, 0.0))
        result["final_3d"] = None if done is None else time.perf_counter() - start
    print(json.dumps(result))
    window.jobs.shutdown(timeout=30)
    window.close()
    # end the process without Python's exit-time teardown of the window's C++ objects
    sys.stdout.flush()
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
