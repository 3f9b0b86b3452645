"""The progress/cancellation contract shared by every long-running core function."""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO

from ibviewer.errors import Cancelled

__all__ = [
    "Progress",
    "NullProgress",
    "NULL_PROGRESS",
    "CancelToken",
    "SubProgress",
    "TextProgress",
    "RecordingProgress",
    "Cancelled",
]


class Progress(Protocol):
    """What a slow function reports to, blind to who listens.

    ``update`` takes the fraction done in [0, 1] and a short message;
    ``partial`` hands over an intermediate result (e.g. an embedding so far);
    ``check_cancelled`` raises :class:`~ibviewer.errors.Cancelled` once a stop was asked.
    """

    def update(self, fraction: float, message: str = "") -> None: ...

    def partial(self, result: object) -> None: ...

    def check_cancelled(self) -> None: ...


class NullProgress:
    """Listens to nothing and never cancels."""

    def update(self, fraction: float, message: str = "") -> None:
        pass

    def partial(self, result: object) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


NULL_PROGRESS = NullProgress()


class CancelToken:
    """A thread-safe cancellation flag usable as a (silent) Progress."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def update(self, fraction: float, message: str = "") -> None:
        pass

    def partial(self, result: object) -> None:
        pass

    def check_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class SubProgress:
    """Maps a child task's [0, 1] onto [start, end] of a parent's progress.

    >>> p = SubProgress(parent, 0.5, 1.0, prefix="t-SNE: ")
    """

    def __init__(self, parent: Progress, start: float, end: float, prefix: str = "") -> None:
        self.parent = parent
        self.start = float(start)
        self.end = float(end)
        self.prefix = prefix

    def update(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.parent.update(self.start + (self.end - self.start) * fraction, self.prefix + message)

    def partial(self, result: object) -> None:
        self.parent.partial(result)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


class TextProgress:
    """A terminal progress bar with counts and time left, written to stderr."""

    def __init__(self, stream: TextIO | None = None, width: int = 30, min_interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self._start = time.monotonic()
        self._last = 0.0
        self._is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_message = ""
        self._fraction = 0.0
        self._advanced_at = self._start
        self._eta_then = float("nan")
        self._shown = 0.0  # the furthest fraction reported so far

    def _time_left(self, now: float, fraction: float) -> float:
        """Seconds left, NaN when unknown: a stage that stops advancing makes the estimate stale.

        The rate so far predicts the rest while the fraction grows; while it stands still
        (a long step that reports no progress, e.g. t-SNE's neighbour search), the last
        estimate counts down, and once it has run out the time left is unknown rather than
        a stuck "2.0 s".
        """
        if fraction > self._fraction:
            self._fraction, self._advanced_at = fraction, now
            self._eta_then = (now - self._start) * (1 - fraction) / fraction
            return self._eta_then
        left = self._eta_then - (now - self._advanced_at)
        return left if left > 0 or fraction >= 1.0 else float("nan")

    def update(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        # one bar that never moves back: stages and runs that report overlapping spans (49.5% -> 75% -> 55%)
        # keep the furthest fraction shown
        fraction = max(min(max(float(fraction), 0.0), 1.0), self._shown)
        self._shown = fraction
        if fraction < 1.0 and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self._start
        eta = self._time_left(now, fraction)
        filled = int(round(self.width * fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        eta_text = "?" if eta != eta else f"{eta:5.1f}s"
        line = f"[{bar}] {100 * fraction:5.1f}% {message} (elapsed {elapsed:5.1f}s, left {eta_text})"
        if self._is_tty:
            self.stream.write("\r" + line[:160].ljust(160))
            if fraction >= 1.0:
                self.stream.write("\n")
        elif message != self._last_message or fraction >= 1.0:
            self.stream.write(line + "\n")
        self._last_message = message
        self.stream.flush()

    def partial(self, result: object) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


class RecordingProgress:
    """Records every call; cancels once ``cancel_after`` updates were seen (for tests)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[tuple[float, str]] = []
        self.partials: list[object] = []
        self.cancel_after = cancel_after
        self.checks = 0

    def update(self, fraction: float, message: str = "") -> None:
        self.updates.append((float(fraction), message))

    def partial(self, result: object) -> None:
        self.partials.append(result)

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancel_after is not None and len(self.updates) >= self.cancel_after:
            raise Cancelled()
