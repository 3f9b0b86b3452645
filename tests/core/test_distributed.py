"""core/distributed.py: checkpoint tasks on a real dask cluster (a LocalCluster of two worker processes).

The cluster is reached by its tcp:// address, as a cluster started with ``dask scheduler`` and
``dask worker`` is. Skipped where the ``dask`` extra is not installed.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from ibviewer.cli import main  # noqa: E402
from ibviewer.core.config import AnalysisSettings, RunRequest  # noqa: E402
from ibviewer.core.pipeline import analyze_runs, open_request  # noqa: E402
from ibviewer.core.progress import RecordingProgress  # noqa: E402
from ibviewer.errors import Cancelled, IBViewerError  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*sits at the ceiling:UserWarning")]


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (each restarted by its nanny when killed)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        with distributed.Client(local) as client:
            yield local, client


@pytest.fixture(scope="module")
def many_checkpoints(tmp_path_factory):
    """Twelve checkpoints of a 12-8-6-2 tanh MLP (a model factory in a .py file, shipped to the workers)."""
    import importlib.util

    import torch

    from tests.conftest import MODEL_SOURCE

    root = tmp_path_factory.mktemp("many")
    model_file = root / "many_net.py"
    model_file.write_text(MODEL_SOURCE)
    spec = importlib.util.spec_from_file_location("many_net_for_fixture", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = root / "ckpts"
    folder.mkdir()
    for epoch in range(12):
        torch.manual_seed(epoch)
        torch.save({"epoch": epoch, "model_state_dict": module.make().state_dict()}, folder / f"e{epoch:03d}.pt")
    return folder, f"{model_file}:make"


def _analyze(folder, spec, out, *extra):
    return main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(out), "--what",
                 "infoplane,probes,embeddings", "--method", "pca", "--epochs", "5,20", "--max-samples", "600", *extra])  # fmt: skip


def test_a_cluster_run_writes_the_same_files_as_the_local_run(cluster, ib12_checkpoints, tmp_path, monkeypatch):
    local_cluster, _ = cluster
    folder, spec = ib12_checkpoints
    assert _analyze(folder, spec, tmp_path / "local") == 0
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path / "other-cache"))  # nothing comes from the local run's cache
    assert _analyze(folder, spec, tmp_path / "cluster", "--scheduler", local_cluster.scheduler_address) == 0
    for name in ("infoplane.csv", "probes.csv", "embeddings.csv"):
        assert (tmp_path / "cluster" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_several_runs_are_scheduled_together_each_into_its_own_folder(cluster, ib12_checkpoints, tmp_path):
    local_cluster, _ = cluster
    folder, spec = ib12_checkpoints
    other = folder.parent / "copy"
    other.mkdir()
    for file in folder.iterdir():
        (other / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "both"
    assert main(["analyze", str(folder), str(other), "--model", spec, "--dataset", "ib12", "--out", str(out),
                 "--what", "infoplane", "--max-samples", "600", "--scheduler", local_cluster.scheduler_address]) == 0  # fmt: skip
    assert (out / "ckpts" / "infoplane.csv").read_bytes() == (out / "copy" / "infoplane.csv").read_bytes()


def test_a_killed_worker_costs_only_its_tasks(cluster, many_checkpoints):
    local_cluster, client = cluster
    folder, spec = many_checkpoints
    request = RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12", max_samples=1500, use_cache=False)
    opened = open_request(request)
    settings = AnalysisSettings(range_mode="layer", n_bins=10)
    [expected] = analyze_runs([(request, opened)], settings, epochs=[(11,)], stages={"infoplane", "probes"})

    pids = client.run(os.getpid)
    killed = []

    class KillOnFirstResult(RecordingProgress):
        def update(self, fraction, message=""):
            super().update(fraction, message)
            if not killed and "checkpoints)" in message:  # a task came back, others still run
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

    progress = KillOnFirstResult()
    [got] = analyze_runs([(request.with_changes(scheduler=local_cluster.scheduler_address), opened)], settings,
                         epochs=[(11,)], stages={"infoplane", "probes"}, progress=progress)  # fmt: skip
    assert killed
    done = [message for _, message in progress.updates if "checkpoints)" in message]
    assert len(done) >= 12  # every checkpoint of both passes came back, the killed worker's ones run again
    np.testing.assert_array_equal(got.result.infoplane.i_xt, expected.result.infoplane.i_xt)
    np.testing.assert_array_equal(got.result.infoplane.i_ty, expected.result.infoplane.i_ty)
    np.testing.assert_array_equal(got.result.probes.linear_acc, expected.result.probes.linear_acc)
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it: later tests keep two workers
    assert killed[0] not in client.run(os.getpid).values()


def test_cancel_cancels_the_futures(cluster, many_checkpoints):
    local_cluster, _ = cluster
    folder, spec = many_checkpoints
    request = RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12", use_cache=False, scheduler=local_cluster.scheduler_address)
    with pytest.raises(Cancelled):
        analyze_runs([(request, open_request(request))], AnalysisSettings(), epochs=[(11,)], stages={"infoplane"},
                     progress=RecordingProgress(cancel_after=1))  # fmt: skip
    scheduler = local_cluster.scheduler
    deadline = time.monotonic() + 60
    while any(str(key).startswith("ibviewer-") for key in scheduler.tasks) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [key for key in scheduler.tasks if str(key).startswith("ibviewer-")]


def test_an_unreachable_scheduler_is_a_one_line_error(ib12_checkpoints, tmp_path, capsys):
    folder, spec = ib12_checkpoints
    assert _analyze(folder, spec, tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9") == 2
    assert "Could not reach the dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_task_error_reaches_the_caller_as_itself(cluster, ib12_checkpoints):
    local_cluster, _ = cluster
    folder, spec = ib12_checkpoints
    request = RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12", use_cache=False, scheduler=local_cluster.scheduler_address)
    opened = open_request(request)
    (folder / "e005.pt").write_bytes(b"not a checkpoint any more")  # the workers open it after the client did
    with pytest.raises(IBViewerError, match="e005.pt"):
        analyze_runs([(request, opened)], AnalysisSettings(), epochs=[(20,)], stages={"infoplane"})

