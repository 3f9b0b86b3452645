"""Several runs in one plane: averaged seeds (mean and spread per layer and epoch) and runs compared side by side."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ibviewer.core.information import InformationPlane
from ibviewer.core.multirun import combine_planes, plot_runs, write_runs_csv
from ibviewer.errors import IBViewerError


def plane(i_xt, epochs=(0, 5), layers=("a", "b"), estimator="binning"):
    i_xt = np.asarray(i_xt, dtype=np.float64)
    params = {"n_bins": 30, "value_range": "layer"} if estimator == "binning" else {"noise_var": 0.1}
    return InformationPlane(estimator, params, tuple(epochs), tuple(layers), i_xt, i_xt / 2, None, None,
                            h_y=1.0, log2_n=10.0, n_samples=1024)  # fmt: skip


def test_average_is_the_mean_and_sample_sd_over_runs_on_the_common_epochs(tmp_path):
    one = plane([[1.0, 2.0], [3.0, 4.0]])
    two = plane([[3.0, 2.0], [5.0, 8.0]])
    three = plane([[9.0, 9.0], [2.0, 6.0], [7.0, 9.0]], epochs=(0, 5, 9))  # an extra epoch, not shared
    combined = combine_planes(["s0", "s1", "s2"], [one, two, three], "average")
    assert combined.epochs == (0, 5) and combined.layers == ("a", "b") and combined.n_runs == 3
    np.testing.assert_allclose(combined.i_xt_mean, [[13 / 3, 13 / 3], [10 / 3, 6.0]])
    np.testing.assert_allclose(combined.i_xt_sd[0, 0], np.std([1.0, 3.0, 9.0], ddof=1))
    np.testing.assert_allclose(combined.i_ty_mean, combined.i_xt_mean / 2)
    path = write_runs_csv(combined, tmp_path / "infoplane_runs.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[0]["n_runs"] == "3"
    assert float(rows[3]["i_xt_mean"]) == 6.0 and float(rows[3]["i_xt_sd"]) == pytest.approx(np.std([4, 8, 6], ddof=1))
    meta = json.loads((tmp_path / "infoplane_runs.json").read_text())
    assert meta["mode"] == "average" and meta["runs"] == ["s0", "s1", "s2"]
    written = plot_runs(combined, [tmp_path / "runs.png"])
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_keeps_every_run_and_refuses_mixed_estimators(tmp_path):
    tanh = plane([[1.0, 2.0], [3.0, 4.0]])
    relu = plane([[5.0, 6.0, 7.0]], epochs=(3,), layers=("x", "y", "z"))
    combined = combine_planes(["tanh", "relu"], [tanh, relu], "compare")
    assert combined.epochs == (0, 3, 5) and combined.i_xt_mean is None
    path = write_runs_csv(combined, tmp_path / "runs.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["run"], r["epoch"], r["layer"]) for r in rows][-3:] == [("relu", "3", "x"), ("relu", "3", "y"), ("relu", "3", "z")]
    assert len(rows) == 7 and float(rows[-1]["i_xt"]) == 7.0
    assert b"<svg" in plot_runs(combined, [tmp_path / "runs.svg"])[0].read_bytes()[:2000]
    with pytest.raises(IBViewerError, match="different estimators"):
        combine_planes(["a", "b"], [tanh, plane([[1, 1], [1, 1]], estimator="kde")])
    with pytest.raises(IBViewerError, match="Compare them side by side"):
        combine_planes(["a", "b"], [tanh, relu], "average")


def test_analyze_several_runs_writes_the_combined_plane_beside_their_folders(tmp_path, ib12_checkpoints, capsys):
    from ibviewer.cli import main

    folder, spec = ib12_checkpoints
    other = folder.parent / "seed1"
    other.mkdir()
    for file in folder.iterdir():
        (other / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "out"
    assert main(["analyze", str(folder), str(other), "--model", spec, "--dataset", "ib12", "--out", str(out),
                 "--what", "infoplane", "--max-samples", "300", "--combine", "average"]) == 0  # fmt: skip
    assert "mean ± sd over 2 runs" in capsys.readouterr().out
    with (out / "ckpts" / "infoplane.csv").open() as handle:
        single = list(csv.DictReader(handle))
    with (out / "infoplane_runs.csv").open() as handle:
        averaged = list(csv.DictReader(handle))
    # two copies of one run: the mean is the run itself and the spread is 0
    assert [(r["epoch"], r["layer"]) for r in averaged] == [(r["epoch"], r["layer"]) for r in single]
    assert all(float(a["i_xt_mean"]) == float(s["i_xt"]) and float(a["i_xt_sd"]) == 0 for a, s in zip(averaged, single))
    manifest = json.loads((out / "ibviewer-outputs.json").read_text())
    assert set(manifest["files"]) == {"infoplane_runs.csv", "infoplane_runs.json", "infoplane_runs.png", "infoplane_runs.svg"}
