"""Measuring how long the GUI thread's event loop is blocked while a window works."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QTimer


def open_while_timing(qtbot, window, path, timeout_ms: int) -> tuple[float, str]:
    """Open ``path`` in ``window``, wait for it to go idle, and return the longest gap between
    ticks of a 10 ms timer (seconds) with the status message shown when it happened."""
    gaps: list[float] = []
    where: list[str] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        where.append(window.status_message.text())
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    try:
        with qtbot.waitSignal(window.idle, timeout=timeout_ms):
            window.open_path(path)
    finally:
        timer.stop()
    assert len(gaps) > 50, "the timer barely ticked: the measurement says nothing"
    worst = int(np.argmax(gaps))
    return gaps[worst], where[worst]
