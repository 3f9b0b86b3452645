"""core/streaming.py + core/checkpoint_task.py: one checkpoint at a time gives exactly the in-memory results."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from ibviewer.core.config import AnalysisSettings, RunRequest, parse_scheduler
from ibviewer.core.information import ESTIMATORS, make_estimator
from ibviewer.core.pipeline import StageResult, analyze_runs, open_and_extract, open_request, run_analysis
from ibviewer.core.progress import RecordingProgress
from ibviewer.core.streaming import InProcessExecutor, StreamedRun, stream_analysis
from ibviewer.errors import Cancelled, IBViewerError


pytestmark = pytest.mark.filterwarnings("ignore:.*sits at the ceiling:UserWarning")


def _request(ib12_checkpoints, **changes) -> RunRequest:
    folder, spec = ib12_checkpoints
    return RunRequest(str(folder), model=spec, trust_factory=True, dataset="ib12", **{"max_samples": 800, **changes})


@pytest.mark.parametrize(
    "settings",
    [AnalysisSettings(method="pca"), AnalysisSettings(method="pca", range_mode="layer", n_bins=12),
     AnalysisSettings(method="pca", estimator="kde", noise_var=0.05), AnalysisSettings(method="pca", estimator="adaptive")],
    ids=["binning", "binning-per-layer-range", "kde", "adaptive"],
)  # fmt: skip
def test_streamed_results_equal_the_in_memory_ones_exactly(ib12_checkpoints, settings):
    request = _request(ib12_checkpoints)
    opened = open_and_extract(request)
    expected = run_analysis(opened.activations, settings, epochs=(5, 20), use_cache=False)
    progress = RecordingProgress()
    [got] = analyze_runs([(request.with_changes(use_cache=False), open_request(request))], settings,
                         epochs=[(5, 20)], progress=progress)  # fmt: skip
    plane, want = got.result.infoplane, expected.infoplane
    assert plane.epochs == (1, 5, 20) and plane.layers == want.layers and plane.params == want.params
    np.testing.assert_array_equal(plane.i_xt, want.i_xt)  # bit for bit, not approximately
    np.testing.assert_array_equal(plane.i_ty, want.i_ty)
    if want.i_xt_lower is not None:
        np.testing.assert_array_equal(plane.i_xt_lower, want.i_xt_lower)
    assert (plane.h_y, plane.log2_n, plane.warnings) == (want.h_y, want.log2_n, want.warnings)
    for name in ("linear_acc", "knn_acc", "linear_ci", "knn_ci", "gain", "gain_ci"):
        np.testing.assert_array_equal(getattr(got.result.probes, name), getattr(expected.probes, name))
    assert got.result.probes.epochs == (5, 20) and got.result.probes.metadata() == expected.probes.metadata()
    assert got.result.probes.baseline == expected.probes.baseline and expected.probes.baseline is not None
    # the kept activations are exactly the chosen epochs' rows, and embed to the same panels
    for layer in opened.activations.layer_names:
        for epoch in (5, 20):
            np.testing.assert_array_equal(got.activations.layer(layer, epoch), opened.activations.layer(layer, epoch))
            np.testing.assert_array_equal(got.result.embeddings.get(epoch, layer).coords,
                                          expected.embeddings.get(epoch, layer).coords)  # fmt: skip
    assert got.activations.epochs == (5, 20) and got.activations.key != opened.activations.key
    posted = [p.stage for p in progress.partials if isinstance(p, StageResult)]
    assert posted == ["infoplane", "probes"]
    fractions = [f for f, _ in progress.updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimators_layer_settings_follow_from_each_units_extremes(rng, name):
    # streamed, layer_params sees each unit's min and max per epoch instead of the values
    values = np.tanh(rng.normal(size=(3, 50, 4)) * [1, 2, 3, 4]).astype(np.float32)
    extremes = np.stack([np.stack([v.min(axis=0), v.max(axis=0)]) for v in values])
    params = make_estimator(name, **({"value_range": "layer"} if name == "binning" else {})).get_params()
    cls = ESTIMATORS[name]
    assert cls.layer_params(dict(params), extremes) == cls.layer_params(dict(params), values)


def test_a_streamed_plane_shares_the_in_memory_planes_cache(ib12_checkpoints, tmp_path):
    request = _request(ib12_checkpoints, cache_dir=str(tmp_path / "cache"))
    analyze_runs([(request, open_request(request))], AnalysisSettings(), epochs=[(20,)], stages={"infoplane"})
    acts = open_and_extract(request).activations
    progress = RecordingProgress()
    run_analysis(acts, AnalysisSettings(), epochs=(20,), stages={"infoplane"}, cache_dir=request.cache_dir,
                 progress=progress)  # fmt: skip
    assert any("loaded from cache" in message for _, message in progress.updates)


def test_a_cached_plane_needs_no_checkpoint_at_all(ib12_checkpoints, tmp_path):
    request = _request(ib12_checkpoints, cache_dir=str(tmp_path / "cache"))
    run = StreamedRun.prepare(request, open_request(request), (20,))

    class Counting(InProcessExecutor):
        tasks: list = []

        def run_tasks(self, tasks, progress):
            self.tasks.extend(tasks)
            return super().run_tasks(tasks, progress)

    executor = Counting()
    first = stream_analysis([run], AnalysisSettings(), executor, stages={"infoplane"}, cache_dir=request.cache_dir)
    assert len(executor.tasks) == 3
    executor.tasks.clear()
    again = stream_analysis([run], AnalysisSettings(), executor, stages={"infoplane", "probes"}, cache_dir=request.cache_dir)
    assert [(t.epoch, t.cells, t.probe_seed) for t in executor.tasks] == [(20, None, 0)]  # only the probed epoch
    np.testing.assert_array_equal(first[0].infoplane.i_xt, again[0].infoplane.i_xt)


def test_a_per_layer_range_takes_a_first_pass_of_extremes_only(ib12_checkpoints):
    request = _request(ib12_checkpoints, use_cache=False)
    run = StreamedRun.prepare(request, open_request(request), (20,))
    seen = []

    class Recording(InProcessExecutor):
        def run_tasks(self, tasks, progress):
            seen.append([(t.extremes, t.cells is not None) for t in tasks])
            return super().run_tasks(tasks, progress)

    stream_analysis([run], AnalysisSettings(range_mode="layer"), Recording(), stages={"infoplane"}, use_cache=False)
    assert seen == [[(True, False)] * 3, [(False, True)] * 3]


def test_cancelling_stops_between_checkpoints(ib12_checkpoints):
    request = _request(ib12_checkpoints, use_cache=False)
    progress = RecordingProgress(cancel_after=1)
    with pytest.raises(Cancelled):
        analyze_runs([(request, open_request(request))], AnalysisSettings(), epochs=[(20,)], stages={"infoplane"},
                     progress=progress)  # fmt: skip


def test_joblib_processes_give_the_same_plane(ib12_checkpoints):
    request = _request(ib12_checkpoints, use_cache=False)
    opened = open_request(request)
    one = analyze_runs([(request, opened)], AnalysisSettings(), epochs=[(20,)], stages={"infoplane"})
    two = analyze_runs([(request, opened)], AnalysisSettings(), epochs=[(20,)], stages={"infoplane"}, n_jobs=2)
    np.testing.assert_array_equal(one[0].result.infoplane.i_xt, two[0].result.infoplane.i_xt)
    np.testing.assert_array_equal(one[0].result.infoplane.i_ty, two[0].result.infoplane.i_ty)


def test_warnings_raised_in_tasks_reach_the_caller_once(ib12_checkpoints):
    # a split holding out a single captured sample: every epoch's probes warn that they hold out a seeded part
    request = _request(ib12_checkpoints, use_cache=False, max_samples=None)
    opened = open_request(request)
    labels = opened.dataset.y
    keep = np.concatenate([np.flatnonzero(labels == 0)[:40], np.flatnonzero(labels == 1)[:3]])
    object.__setattr__(opened.source, "dataset", _subset(opened.dataset, keep))
    opened.source.test_indices = np.array([0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analyze_runs([(request, opened)], AnalysisSettings(), epochs=[(1, 5, 20)], stages={"probes"})
    split = [w for w in caught if "held out" in str(w.message)]
    assert len(split) == 1 and "only 1 of the 43" in str(split[0].message)


def _subset(dataset, rows):
    from dataclasses import replace

    return replace(dataset, x=dataset.x[rows], y=dataset.y[rows])


def test_runs_with_different_schedulers_are_refused(ib12_checkpoints):
    request = _request(ib12_checkpoints)
    opened = open_request(request)
    with pytest.raises(IBViewerError, match="different schedulers"):
        analyze_runs([(request, opened), (request.with_changes(scheduler="local:2"), opened)], AnalysisSettings(),
                     epochs=[(20,), (20,)])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("local", ("local", None)), ("local:3", ("local", 3)), ("tcp://127.0.0.1:8786", ("address", "tcp://127.0.0.1:8786")),
     ("tls://scheduler.lab:8786", ("address", "tls://scheduler.lab:8786"))],
)  # fmt: skip
def test_scheduler_settings(text, parsed):
    assert parse_scheduler(text) == parsed
    assert RunRequest("x", scheduler=text).scheduler == text


@pytest.mark.parametrize("text", ["", "local:0", "local:x", "cluster", "tcp://host", "http://h:1", "tcp://:8786"])
def test_bad_scheduler_settings_are_one_line_errors(text):
    with pytest.raises(IBViewerError, match="Scheduler"):
        RunRequest("x", scheduler=text)


def test_without_a_scheduler_dask_is_never_imported(tmp_path, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code = (
        "import sys; from ibviewer.cli import main; "
        f"rc = main(['analyze', {str(folder)!r}, '--model', {spec!r}, '--dataset', 'ib12', '--out', {str(tmp_path / 'o')!r}, "
        "'--what', 'infoplane,probes', '--max-samples', '300']); "
        "assert rc == 0, rc; assert not any(m == 'dask' or m.startswith(('dask.', 'distributed')) for m in sys.modules), "
        "sorted(m for m in sys.modules if 'dask' in m or 'distributed' in m); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=280)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
