"""commands/options.py: the one mapping from command-line options to the core's settings objects."""

from __future__ import annotations

import logging

import pytest

from ibviewer.cli import _build_parser, main
from ibviewer.commands.options import run_request_from_args, settings_from_args
from ibviewer.core.config import AnalysisSettings, RunRequest


def _parse(*argv: str):
    return _build_parser().parse_args(list(argv))


def test_defaults_are_the_settings_defaults_for_every_command():
    for argv in (("analyze", "run", "--out", "o"), ("gui",), ("mi", "f.npz")):
        assert settings_from_args(_parse(*argv)) == AnalysisSettings()


def test_every_analysis_option_reaches_the_settings():
    args = _parse(
        "analyze", "run", "--out", "o", "--estimator", "binning", "--bins", "12", "--range", "-2", "3", "--method", "umap",
        "--dims", "3", "--seed", "4", "--n-neighbors", "20", "--alignment", "aligned_umap", "--preprocessing", "l2",
        "--pca-dims", "30", "--max-points", "500", "--k", "7", "--metric", "cosine",
    )  # fmt: skip
    assert settings_from_args(args) == AnalysisSettings(
        n_bins=12, bin_range=(-2.0, 3.0), range_mode="fixed", method="umap", dims=3, seed=4, n_neighbors=20, alignment="aligned_umap",
        preprocessing="l2", pca_dims=30, max_points=500, k=7, metric="cosine",
    )  # fmt: skip
    assert settings_from_args(_parse("gui", "--range-per-layer", "--bin-width", "0.2")).estimator_params() == {
        "bin_width": 0.2, "value_range": "layer"
    }
    assert settings_from_args(_parse("mi", "f", "--estimator", "kde", "--noise-var", "0.01")).noise_var == 0.01


def test_the_gui_launcher_maps_the_same_options():
    args = _parse("gui", "runs/a", "--method", "pca", "--perplexity", "15", "--max-samples", "99", "--layers", "a, b",
                  "--model-kwargs", '{"n": 2}', "--no-cache")  # fmt: skip
    assert settings_from_args(args) == AnalysisSettings(method="pca", perplexity=15.0)
    assert run_request_from_args(args) == RunRequest(
        path="runs/a", max_samples=99, layers=("a", "b"), model_kwargs={"n": 2}, use_cache=False
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--perplexity", "0"], "--perplexity 0.0 must be >= 1"),
        (["--k", "0"], "--k 0 must be >= 1"),
        (["--method", "tsne", "--alignment", "aligned_umap"], "aligned_umap"),
        (["--estimator", "kde", "--range-per-layer"], "--range-per-layer does not apply"),
    ],
)
def test_bad_values_are_refused_before_anything_runs(capsys, tmp_path, argv, needle):
    # the run does not exist: the option is refused first, in the option's own words
    code = main(["analyze", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv", [["-v", "mi", "F"], ["mi", "-v", "F"], ["mi", "F", "--verbose"]])
def test_verbose_works_before_and_after_the_command(tmp_path, argv):
    import numpy as np

    path = tmp_path / "rep.npz"
    np.savez(path, t=np.zeros((4, 1)), y=np.array([0, 1, 0, 1]))
    argv = [str(path) if a == "F" else a for a in argv]
    logger = logging.getLogger("ibviewer")
    try:
        assert main(argv) == 0
        assert logger.level == logging.INFO
        assert main(["mi", str(path)]) == 0
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(logging.NOTSET)


def test_verbose_before_a_path_still_opens_the_gui_parser():
    args = _parse("gui", "-v", "runs/a")
    assert args.verbose is True and args.path == "runs/a"
