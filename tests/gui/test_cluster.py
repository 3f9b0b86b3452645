"""The window on a dask cluster: "run on" sends the plane and the probes there, progress and Cancel work as locally.

A LocalCluster of two worker processes reached by its tcp:// address, as a cluster started
with ``dask scheduler`` and ``dask worker`` is. Skipped where the ``dask`` extra is not installed.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from ibviewer.core.config import AnalysisSettings, RunRequest  # noqa: E402
from ibviewer.core.distributed import LOCAL_CLUSTER_OPTIONS  # noqa: E402
from ibviewer.core.pipeline import run_analysis  # noqa: E402
from ibviewer.gui.controller import ANALYSIS, AnalysisController  # noqa: E402
from ibviewer.gui.jobs import JobHub  # noqa: E402
from ibviewer.gui.playback import EpochPlayback  # noqa: E402
from ibviewer.gui.settings import saved_scheduler  # noqa: E402
from ibviewer.gui.state import AppState  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*sits at the ceiling:UserWarning")]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, **LOCAL_CLUSTER_OPTIONS) as local:
        yield local


@pytest.fixture
def controller(qtbot):
    state = AppState()
    state.settings = AnalysisSettings(method="pca")
    made = AnalysisController(state, JobHub(), EpochPlayback(state), RunRequest(path="", max_samples=150, use_cache=False))
    yield made
    made.shutdown()
    assert made.jobs.shutdown(30.0)


def _ibviewer_tasks(cluster):
    return [key for key in cluster.scheduler.tasks if str(key).startswith("ibviewer-")]


def test_the_windows_plane_and_probes_run_on_the_cluster_with_the_same_numbers(controller, cluster, digits_run, qtbot):
    messages = []
    controller.jobs.progress_changed.connect(lambda fraction, message: messages.append(message))
    controller.set_scheduler(cluster.scheduler_address)
    assert saved_scheduler() == cluster.scheduler_address  # kept for the next start
    state = controller.state
    with qtbot.waitSignal(controller.jobs.idle, timeout=600_000):
        controller.open_path(digits_run)
    assert state.infoplane is not None and state.has_probes(), controller.jobs
    assert any("checkpoints)" in message for message in messages)  # progress fed from task completions
    here = run_analysis(state.activations, state.settings, epochs=(state.epoch,), stages={"infoplane", "probes"},
                        use_cache=False)  # fmt: skip
    np.testing.assert_array_equal(state.infoplane.i_xt, here.infoplane.i_xt)
    np.testing.assert_array_equal(state.infoplane.i_ty, here.infoplane.i_ty)
    np.testing.assert_array_equal(state.probes.linear_acc, here.probes.linear_acc)
    assert state.embedding(state.layer_names[0], state.epoch) is not None  # embedded here, from the window's activations


def test_cancel_in_the_window_cancels_the_clusters_tasks(controller, cluster, digits_run, qtbot):
    controller.set_scheduler(cluster.scheduler_address)
    with qtbot.waitSignal(controller.jobs.idle, timeout=600_000):
        controller.open_path(digits_run)
    state, jobs = controller.state, controller.jobs
    state.set_infoplane(None)

    def cancel_at_once(fraction, message):
        jobs.cancel(ANALYSIS)  # the first progress report: the tasks are being submitted or running

    jobs.progress_changed.connect(cancel_at_once)
    with qtbot.waitSignal(jobs.job_cancelled, timeout=600_000, check_params_cb=lambda slot: slot == ANALYSIS):
        controller.start_analysis({"infoplane"})
    assert state.infoplane is None
    deadline = time.monotonic() + 60
    while _ibviewer_tasks(cluster) and time.monotonic() < deadline:
        qtbot.wait(100)
    assert not _ibviewer_tasks(cluster)


def test_the_window_takes_the_scheduler_from_the_command_line(monkeypatch):
    from ibviewer.cli import main

    launched = []
    monkeypatch.setattr("ibviewer.gui.app.run_app", lambda request, settings, launch: launched.append(request) or 0)
    assert main(["gui", "some/run", "--scheduler", "local:2"]) == 0
    assert launched[0].scheduler == "local:2"
    state = AppState()
    controller = AnalysisController(state, JobHub(), EpochPlayback(state), launched[0])
    assert controller.scheduler == "local:2"  # a launch option wins over the saved setting
    controller.shutdown()
