"""`ibviewer analyze`: every output file, with values checked against the core."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ibviewer.cli import main


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_analyze_writes_every_output(tmp_path, ib12_checkpoints, capsys):
    folder, spec = ib12_checkpoints
    out = tmp_path / "out"
    code = main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(out),
                 "--method", "pca", "--epochs", "all", "--select", "14", "--k", "5", "--max-samples", "600"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    plane = _rows(out / "infoplane.csv")
    assert {(int(r["epoch"]), r["layer"]) for r in plane} == {(e, l) for e in (1, 5, 20) for l in ("1", "3")}
    assert all(0 <= float(r["i_xt"]) <= np.log2(600) + 1e-9 for r in plane)
    assert (out / "infoplane.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "infoplane.svg").read_bytes()[:2000]
    embeddings = _rows(out / "embeddings.csv")
    assert list(embeddings[0]) == ["epoch", "layer", "method", "index", "label", "label_name", "x", "y"]
    assert len(embeddings) == 3 * 2 * 600 and {r["method"] for r in embeddings} == {"pca"}
    for epoch in (1, 5, 20):
        assert (out / f"layers_e{epoch}.png").stat().st_size > 10_000
        rows = [r for r in embeddings if r["epoch"] == str(epoch) and r["layer"] == "3"]
        assert len(rows) == 600
    probes = _rows(out / "probes.csv")
    assert len(probes) == 7 and all(0 <= float(r["linear_acc"]) <= 1 for r in probes)
    assert probes[0]["layer"] == "input" and probes[0]["epoch"] == ""  # the raw inputs' baseline
    meta = json.loads((out / "probes.json").read_text())
    assert meta["n_samples"] == 600 and meta["split"] == "seeded" and meta["n_test"] == 120
    assert "epoch 20: " in captured.out  # the probes' plain-language saturation note
    neighbours = _rows(out / "neighbors.csv")
    assert {r["query_index"] for r in neighbours} == {"14"} and len(neighbours) == 2 * 5
    assert [r["rank"] for r in neighbours if r["layer"] == "1"] == ["1", "2", "3", "4", "5"]


def test_analyze_neighbours_equal_brute_force(tmp_path, ib12_checkpoints):
    from ibviewer.core.run import open_run

    folder, spec = ib12_checkpoints
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(out), "--what", "probes",
                 "--select", "100", "--k", "4", "--metric", "euclidean"]) == 0
    rows = [r for r in _rows(out / "neighbors.csv") if r["layer"] == "3"]
    acts = open_run(folder, model=spec, dataset="ib12").activations()
    layer = acts.layer("3", 20)
    distances = np.linalg.norm(layer - layer[100], axis=1)
    distances[100] = np.inf
    expected = np.argsort(distances, kind="stable")[:4]
    assert [int(r["index"]) for r in rows] == expected.tolist()
    np.testing.assert_allclose([float(r["distance"]) for r in rows], distances[expected], rtol=1e-5, atol=1e-6)
    assert {r["epoch"] for r in rows} == {"20"} and {r["metric"] for r in rows} == {"euclidean"}


def test_analyze_an_activations_archive(tmp_path, rng):
    labels = rng.integers(0, 2, 300)
    np.savez(tmp_path / "acts.npz", labels=labels, **{f"act/h{i}/{e}": np.tanh(rng.normal(size=(300, 3)) + labels[:, None] * e)
                                                         for i in (1, 2) for e in (0, 3)})
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "acts.npz"), "--out", str(out), "--what", "infoplane",
                 "--estimator", "kde", "--noise-var", "0.01"]) == 0
    rows = _rows(out / "infoplane.csv")
    assert len(rows) == 4 and all(float(r["i_xt_lower"]) <= float(r["i_xt_upper"]) + 1e-9 for r in rows)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(["--what", "pictures"], "--what"), (["--epochs", "999"], "not saved"), (["--select", "99999"], "--select"),
     (["--select", "7", "--max-samples", "600"], "not among the 600 samples"), (["--words"], "--words needs a text run")],
)
def test_analyze_bad_options_are_one_line_errors(tmp_path, ib12_checkpoints, capsys, extra, needle):
    folder, spec = ib12_checkpoints
    code = main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_estimator_options_that_do_not_apply_are_refused(tmp_path, ib12_checkpoints, capsys):
    folder, spec = ib12_checkpoints
    code = main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(tmp_path / "o"),
                 "--estimator", "kde", "--bins", "10"])
    err = capsys.readouterr().err
    assert code == 2 and "--bins does not apply to --estimator kde" in err


def test_embedding_csv_index_is_the_dataset_index(tmp_path, ib12_checkpoints):
    from ibviewer.core.activations import choose_samples

    folder, spec = ib12_checkpoints
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(out), "--what", "embeddings",
                 "--method", "pca", "--max-samples", "50"]) == 0
    rows = [r for r in _rows(out / "embeddings.csv") if r["layer"] == "1"]
    assert [int(r["index"]) for r in rows] == choose_samples(4096, 50).tolist()


def test_analyze_prints_the_advice_the_window_offers_with_its_options(tmp_path, ib12_checkpoints, capsys):
    folder, spec = ib12_checkpoints
    code = main(["analyze", str(folder), "--model", spec, "--dataset", "ib12", "--out", str(tmp_path / "o"),
                 "--what", "infoplane", "--bins", "400", "--max-samples", "300"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes and all("--" not in line.split("Fix:")[0] for line in notes)  # the message itself names no flag
    assert any("Fix: Use the Rényi estimator" in line and "(--estimator renyi)" in line for line in notes)
