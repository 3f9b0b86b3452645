"""The progress/cancellation contract: sub-ranges, the terminal bar, cancel tokens and the test recorder."""

from __future__ import annotations

import io
import threading

import pytest

from ibviewer.core.progress import (
    NULL_PROGRESS,
    CancelToken,
    RecordingProgress,
    SubProgress,
    TextProgress,
)
from ibviewer.errors import Cancelled, IBViewerError


def test_sub_progress_maps_a_child_onto_its_range_and_clamps():
    parent = RecordingProgress()
    child = SubProgress(parent, 0.25, 0.75, prefix="t-SNE: ")
    for fraction in (0.0, 0.5, 1.0, 1.7, -0.3):
        child.update(fraction, "step")
    assert parent.updates == [(0.25, "t-SNE: step"), (0.5, "t-SNE: step"), (0.75, "t-SNE: step"),
                              (0.75, "t-SNE: step"), (0.25, "t-SNE: step")]  # fmt: skip
    child.partial("embedding so far")
    assert parent.partials == ["embedding so far"]


def test_nested_sub_progress_composes_ranges():
    parent = RecordingProgress()
    epoch_2_of_4 = SubProgress(parent, 0.5, 0.75)
    second_half = SubProgress(epoch_2_of_4, 0.5, 1.0, prefix="b ")
    second_half.update(0.5)
    assert parent.updates == [(pytest.approx(0.6875), "b ")]


def test_cancellation_reaches_through_sub_progress():
    token = CancelToken()
    child = SubProgress(SubProgress(token, 0.0, 0.5), 0.0, 1.0)
    child.check_cancelled()  # nothing asked yet
    token.cancel()
    assert token.cancelled
    with pytest.raises(Cancelled):
        child.check_cancelled()


def test_a_cancel_token_stops_a_worker_thread():
    token = CancelToken()
    started, steps = threading.Event(), []

    def work() -> None:
        try:
            while True:
                token.check_cancelled()
                steps.append(1)
                started.set()
        except Cancelled:
            steps.append("stopped")

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(timeout=30)
    token.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive() and steps[-1] == "stopped"


def test_recording_progress_cancels_after_n_updates():
    progress = RecordingProgress(cancel_after=2)
    progress.check_cancelled()
    progress.update(0.1, "a")
    progress.check_cancelled()
    progress.update(0.2, "b")
    with pytest.raises(Cancelled):
        progress.check_cancelled()
    assert progress.updates == [(0.1, "a"), (0.2, "b")] and progress.checks == 3


def test_the_null_progress_never_cancels_and_cancelled_is_not_an_error():
    NULL_PROGRESS.update(0.5, "x")
    NULL_PROGRESS.partial(object())
    NULL_PROGRESS.check_cancelled()
    assert not issubclass(Cancelled, IBViewerError)  # a stop asked by the user is never shown as a failure


def test_text_progress_writes_a_line_per_new_message_to_a_file():
    stream = io.StringIO()
    progress = TextProgress(stream, width=10, min_interval=0.0)
    progress.update(0.0, "loading")
    progress.update(0.5, "epoch 1/2")
    progress.update(0.5, "epoch 1/2")  # same message: no new line in a log file
    progress.update(1.0, "epoch 2/2")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[----------]   0.0% loading") and "left ?)" in lines[0]
    assert lines[1].startswith("[#####-----]  50.0% epoch 1/2")
    assert lines[2].startswith("[##########] 100.0% epoch 2/2")


def test_text_progress_throttles_but_always_shows_the_end():
    stream = io.StringIO()
    progress = TextProgress(stream, min_interval=3600.0)
    progress.update(0.1, "first")  # shown unless the clock is younger than an hour
    progress.update(0.2, "second")  # within the hour after "first" (or after the start): dropped
    progress.update(1.0, "done")
    messages = [line.split("% ")[1].split(" (")[0] for line in stream.getvalue().splitlines()]
    assert messages in (["first", "done"], ["done"])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_progress_redraws_one_line_on_a_terminal():
    stream = _Terminal()
    progress = TextProgress(stream, width=4, min_interval=0.0)
    progress.update(0.5, "half")
    progress.update(1.0, "done")
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[##--]  50.0% half" in text and "[####] 100.0% done" in text


def test_time_left_is_unknown_once_a_stage_stops_advancing(monkeypatch):
    """A long step without progress (t-SNE's neighbour search) must not show a stuck "left 2.0s"."""
    import ibviewer.core.progress as progress_module

    clock = iter([0.0, 2.0, 3.0, 60.0, 61.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    progress = TextProgress(stream, min_interval=0.0)
    progress.update(0.5, "extracting")  # t=2: half done in 2 s -> 2 s left
    progress.update(0.5, "neighbours")  # t=3: no advance, the estimate counts down -> 1 s left
    progress.update(0.5, "still neighbours")  # t=60: the estimate ran out long ago
    lines = stream.getvalue().splitlines()
    assert "left   2.0s" in lines[0] and "left   1.0s" in lines[1] and "left ?)" in lines[2]


def test_the_text_bar_never_moves_backwards_when_stages_report_overlapping_spans():
    import io
    import re

    stream = io.StringIO()
    progress = TextProgress(stream, min_interval=0.0)
    for fraction, message in ((0.495, "embeddings"), (0.75, "probes"), (0.55, "second run"), (1.0, "done")):
        progress.update(fraction, message)
    shown = [float(p) for p in re.findall(r"\]\s+([\d.]+)%", stream.getvalue())]
    assert shown == sorted(shown) and shown[0] == 49.5 and shown[-1] == 100.0
    assert "second run" in stream.getvalue()  # the message still shows, at the bar's furthest point
