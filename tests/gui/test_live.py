"""Live runs in the window: a training script appends epochs and they arrive in the plane and the timeline."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from ibviewer.gui.live import LIVE
from tests.gui.conftest import _train_digits_run

HANG_GUARD_MS = 180_000
REPO = Path(__file__).resolve().parents[2]
SIZES = [64, 32, 24, 16, 10]

#: a training script continuing the run the test opened (another process, as a real training would be)
CONTINUE_TRAINING = textwrap.dedent(
    """
    import sys
    import torch
    from ibviewer.core.datasets import digits
    from ibviewer.core.recorder import Recorder
    from ibviewer.models import mlp

    folder, sizes = sys.argv[1], [64, 32, 24, 16, 10]
    torch.manual_seed(1)
    data = digits()
    x, y = torch.tensor(data.x), torch.tensor(data.y)
    model = mlp(sizes)
    recorder = Recorder(folder, "ibviewer.models:mlp", {"sizes": sizes}, "digits", name="test_digits")
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in (2, 3):
        for i in range(0, len(x), 128):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i : i + 128]), y[i : i + 128]).backward()
            optimiser.step()
        with torch.no_grad():
            accuracy = float((model(x).argmax(1) == y).float().mean())
        recorder.record(epoch, model, {"train_acc": accuracy}, force=True)
    """
)


def test_epochs_a_training_script_appends_arrive_in_the_plane_and_the_timeline(window, qtbot, tmp_path):
    folder = _train_digits_run(tmp_path / "growing", sizes=tuple(SIZES), epochs=(0, 1))
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(folder)
    assert window.live.is_following() and window.live_indicator.isVisible()
    assert window.live_indicator.text() == "● Live"
    assert str(folder) in window.live.watched_paths()
    window.state.set_selection([1, 2, 3])
    epoch_before = window.state.epoch

    script = tmp_path / "train_more.py"
    script.write_text(CONTINUE_TRAINING)
    subprocess.run([sys.executable, str(script), str(folder)], cwd=REPO, check=True, timeout=300)

    # the watcher and its settle timer start the rescan; no call from the test
    qtbot.waitUntil(lambda: window.state.activations.epochs == (0, 1, 2, 3), timeout=HANG_GUARD_MS)
    qtbot.waitUntil(lambda: window.state.infoplane is not None and not window.is_busy(), timeout=HANG_GUARD_MS)
    state = window.state
    assert tuple(state.infoplane.epochs) == (0, 1, 2, 3)  # the plane has the new epochs' points
    assert window.timeline.slider.maximum() == 3  # the timeline steps through them
    assert sorted(state.run.metrics) == [0, 1, 2, 3] and "train_acc" in state.run.metrics[3]
    assert state.epoch == epoch_before and state.selection.tolist() == [1, 2, 3]  # the view is kept
    assert "4 epochs (0–3)" in window.run_label.text()
    assert window.live_indicator.text().startswith("● Live · epoch ")
    assert window.last_error is None

    window.live_indicator.click()  # stop following
    assert not window.live.is_following() and not window.live_indicator.isVisible()
    assert window.live.watched_paths() == []
    window.live.rescan()
    assert LIVE not in state.running


def test_single_files_are_not_followed(window, qtbot, archive_run):
    with qtbot.waitSignal(window.idle, timeout=HANG_GUARD_MS):
        window.open_path(archive_run)
    assert not window.live.is_following() and not window.live_indicator.isVisible()
