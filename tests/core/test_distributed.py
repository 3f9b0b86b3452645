"""core/distributed.py: checkpoint tasks on a real dask cluster (a LocalCluster of two worker processes).

The cluster is reached by its tcp:// address, as a cluster started with ``dask scheduler`` and
``dask worker`` is. Skipped where the ``dask`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from ibviewer.cli import main  # noqa: E402
from ibviewer.core.checkpoint_task import CheckpointTask, run_checkpoint_task  # noqa: E402
from ibviewer.core.config import AnalysisSettings, RunRequest  # noqa: E402
from ibviewer.core.distributed import LOCAL_CLUSTER_OPTIONS  # noqa: E402
from ibviewer.core.pipeline import analyze_runs, open_request  # noqa: E402
from ibviewer.core.progress import RecordingProgress  # noqa: E402
from ibviewer.errors import Cancelled, ConsentRequired, IBViewerError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*sits at the ceiling:UserWarning")]


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (each restarted by its nanny when killed)."""
    with distributed.LocalCluster(n_workers=2, **LOCAL_CLUSTER_OPTIONS) as local:
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


def test_an_unreachable_scheduler_is_a_one_line_error(ib12_checkpoints, tmp_path, capsys, monkeypatch):
    import ibviewer.core.distributed as executor_module

    monkeypatch.setattr(executor_module, "_CONNECT_TIMEOUT_S", 3)  # nothing listens there: no need to wait 20 s
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



@pytest.fixture(scope="module")
def dask_command_cluster(tmp_path_factory):
    """A scheduler and two workers started with the ``dask`` command line, as docs/scale.md shows; its address."""
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the dask command line is not installed beside this Python")
    folder = tmp_path_factory.mktemp("dask-command")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    scheduler_file = folder / "scheduler.json"
    log = (folder / "cluster.log").open("w")
    common = ["--no-dashboard"]
    processes = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file",
                                   str(scheduler_file), *common], stdout=log, stderr=subprocess.STDOUT, env=env)]  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", *common], stdout=log,
                                              stderr=subprocess.STDOUT, env=env))  # fmt: skip
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_a_cluster_of_the_dask_command_writes_the_infoplane_csv_of_the_local_run(dask_command_cluster, tmp_path, monkeypatch):
    args = ["analyze", str(REPO / "sample_models" / "ib12_tanh"), "--what", "infoplane", "--max-samples", "300"]
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path / "cache-local"))
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path / "cache-cluster"))  # nothing comes from the local run's cache
    assert main([*args, "--out", str(tmp_path / "cluster"), "--scheduler", dask_command_cluster]) == 0
    local = (tmp_path / "local" / "infoplane.csv").read_bytes()
    assert (tmp_path / "cluster" / "infoplane.csv").read_bytes() == local
    assert local.count(b"\n") > 300  # every saved epoch of every layer


class _OpensAFile:
    """Unpickling this creates ``path``: the canary of a pickled checkpoint's code running."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _layers(request):
    from ibviewer.core.checkpoint_task import extract_options

    return tuple(info.name for info in open_request(request).capture_plan(extract_options(request)).layers)


def test_workers_refuse_a_factory_the_user_did_not_choose(cluster, ib12_checkpoints, tmp_path):
    from tests.conftest import MODEL_SOURCE

    _, client = cluster
    folder, spec = ib12_checkpoints
    layers = _layers(RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12"))
    canary = tmp_path / "factory-ran"
    factory = tmp_path / "chosen_by_someone_else.py"
    factory.write_text(f"open({str(canary)!r}, 'w').close()\n{MODEL_SOURCE}")
    request = RunRequest(str(folder), model=f"{factory}:make", dataset="ib12", use_cache=False)  # no consent
    task = CheckpointTask(0, request, "key", 5, layers, extremes=True)
    with pytest.raises(ConsentRequired, match="chosen_by_someone_else"):
        client.submit(run_checkpoint_task, task, pure=False).result(timeout=120)
    assert not canary.exists()


def test_workers_refuse_a_pickled_checkpoint_without_trust_pickle(cluster, ib12_checkpoints, tmp_path):
    import torch

    _, client = cluster
    folder, spec = ib12_checkpoints
    request = RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12", use_cache=False)
    layers = _layers(request)
    canary = tmp_path / "pickle-ran"
    state = torch.load(folder / "e005.pt", weights_only=True)
    torch.save({**state, "extra": _OpensAFile(canary)}, folder / "e005.pt")  # after the client opened the run
    task = CheckpointTask(0, request, "key", 5, layers, extremes=True)
    with pytest.raises(IBViewerError, match="--trust-pickle"):
        client.submit(run_checkpoint_task, task, pure=False).result(timeout=120)
    assert not canary.exists()
