"""`ibviewer mi FILE.npz`: output, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ibviewer.cli import main


@pytest.fixture
def bits() -> np.ndarray:
    codes = np.arange(4096)
    return ((codes[:, None] >> np.arange(12)) & 1).astype(np.float32)


@pytest.fixture
def five_bits(tmp_path, bits):
    """T = first 5 bits, Y = parity of bits 0-2: I(X;T) = 5 and I(T;Y) = 1 bits."""
    path = tmp_path / "rep.npz"
    np.savez(path, t=bits[:, :5], y=(bits[:, :3].sum(axis=1) % 2).astype(np.int64))
    return path


def save(tmp_path, name: str = "rep.npz", **arrays) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_text_output(five_bits, capsys):
    assert main(["mi", str(five_bits)]) == 0
    out = capsys.readouterr().out
    assert "4096 samples x 5 units, 2 classes" in out
    assert "binning: 30 bins on [-1, 1]" in out
    assert "I(X;T) = 5.000000 bits" in out and "ceiling log2(N) = 12.000000" in out
    assert "I(T;Y) = 1.000000 bits" in out and "ceiling H(Y) = 1.000000" in out


def test_json_is_exactly_one_object(five_bits, capsys):
    assert main(["mi", str(five_bits), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    result = json.loads(out)
    assert set(result) == {
        "estimator", "params", "i_xt", "i_ty", "h_y", "log2_n", "saturated", "x_variable", "unit",
        "range_low", "range_high", "out_of_range",
    }  # fmt: skip
    assert result["estimator"] == "binning" and result["unit"] == "bits"
    assert (result["range_low"], result["range_high"]) == (-1.0, 1.0)  # 0/1 bits stay inside the published range
    assert result["i_xt"] == pytest.approx(5.0, abs=1e-9) and result["i_ty"] == pytest.approx(1.0, abs=1e-9)
    assert result["h_y"] == pytest.approx(1.0) and result["log2_n"] == pytest.approx(12.0)


def test_binning_options_reach_the_estimator(tmp_path, bits, capsys):
    ones = bits.sum(axis=1, keepdims=True)  # 0..12: outside [-1, 1] without a range
    path = save(tmp_path, t=ones, y=np.zeros(4096, dtype=np.int64))
    p = np.array([math.comb(12, k) for k in range(13)]) / 4096
    binomial = float(-(p * np.log2(p)).sum())
    assert main(["mi", path, "--json", "--range-per-layer"]) == 0
    assert json.loads(capsys.readouterr().out)["i_xt"] == pytest.approx(binomial, abs=1e-9)
    assert main(["mi", path, "--json", "--range", "0", "12", "--bin-width", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] == {"n_bins": None, "bin_width": 1.0, "value_range": [0.0, 12.0]}
    assert result["i_xt"] == pytest.approx(binomial, abs=1e-9)
    assert main(["mi", path, "--json", "--bins", "3", "--range", "0", "12"]) == 0
    # edges 0, 6, 12: three bins {0..5}, {6..11}, {12}
    result = json.loads(capsys.readouterr().out)
    counts = np.array([p[:6].sum(), p[6:12].sum(), p[12]])
    assert result["i_xt"] == pytest.approx(float(-(counts * np.log2(counts)).sum()), abs=1e-9)


def test_kde_json_has_bounds(five_bits, capsys):
    assert main(["mi", str(five_bits), "--estimator", "kde", "--noise-var", "0.01", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"i_xt_lower", "i_xt_upper", "i_ty_lower", "i_ty_upper"} <= set(result)
    assert result["params"]["noise_var"] == 0.01
    assert result["i_xt_lower"] <= result["i_xt_upper"] == result["i_xt"]
    assert result["i_xt_upper"] == pytest.approx(5.0, abs=1e-3)


def test_kde_text_shows_the_band(five_bits, capsys):
    assert main(["mi", str(five_bits), "--estimator", "kde", "--noise-var", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "kde: noise variance 0.01" in out
    assert "Bhattacharyya lower .. KL upper bound" in out


def test_adaptive(five_bits, capsys):
    assert main(["mi", str(five_bits), "--estimator", "adaptive", "--bins", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] == {"n_bins": 4, "strategy": "mass"}
    assert result["i_xt"] == pytest.approx(5.0, abs=1e-9)


def test_saturation_warning_goes_to_stderr_and_json_stays_clean(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = save(tmp_path, t=rng.uniform(-1, 1, (100, 8)), y=rng.integers(0, 2, 100))
    assert main(["mi", path, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["i_xt"] == pytest.approx(math.log2(100))
    assert captured.err.startswith("warning: ") and "fewer bins" in captured.err


def _one_line_error(capsys, expected: str) -> None:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and expected in lines[0]


@pytest.mark.parametrize(
    "arrays, expected",
    [
        ({"t": np.zeros((10, 2)), "y": np.zeros(9)}, "10 samples but y has 9 labels"),
        ({"t": np.array([[0.0], [np.nan], [1.0]]), "y": np.zeros(3)}, "NaN or infinite"),
        ({"t": np.zeros((1, 3)), "y": np.zeros(1)}, "at least 2 samples"),
        ({"t": np.zeros((4, 2, 2)), "y": np.zeros(4)}, "2-D (n_samples, n_units)"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(4)}, "no array 't' (it holds: x, y)"),
    ],
)
def test_bad_archives_fail_with_one_line(tmp_path, capsys, arrays, expected):
    assert main(["mi", save(tmp_path, **arrays)]) == 2
    _one_line_error(capsys, expected)


def test_unknown_estimator(five_bits, capsys):
    assert main(["mi", str(five_bits), "--estimator", "mine"]) == 2
    _one_line_error(capsys, "Unknown estimator 'mine'. Choose one of: binning, adaptive, kde, renyi.")


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--noise-var", "0.1"], "--noise-var does not apply to --estimator binning"),
        (["--estimator", "kde", "--bins", "10"], "--bins does not apply to --estimator kde"),
        (["--estimator", "adaptive", "--range", "0", "1"], "--range does not apply to --estimator adaptive"),
        (["--bins", "10", "--bin-width", "0.1"], "either --bins or --bin-width"),
        (["--bins", "1"], "--bins 1 must be >= 2"),
        (["--estimator", "kde", "--noise-var", "-1"], "--noise-var -1.0 must be > 0"),
        (["--range", "1", "-1"], "low must be below high"),
        (["--alpha", "2"], "--alpha does not apply to --estimator binning; it is for renyi"),
        (["--estimator", "kde", "--kernel-width", "1"], "--kernel-width does not apply to --estimator kde"),
        (["--estimator", "renyi", "--kernel-width", "1", "--width-factor", "2"], "either --kernel-width or --width-rule"),
        (["--estimator", "renyi", "--alpha", "0"], "--alpha 0.0 must be > 0"),
        (["--estimator", "renyi", "--width-factor", "-1"], "--width-factor -1.0 must be > 0"),
        (["--device", "cpu"], "--device does not apply to --estimator binning"),
    ],
)
def test_bad_options_fail_with_one_line(five_bits, capsys, options, expected):
    assert main(["mi", str(five_bits), *options]) == 2
    _one_line_error(capsys, expected)


def test_missing_and_unreadable_files(tmp_path, capsys):
    assert main(["mi", str(tmp_path / "missing.npz")]) == 2
    _one_line_error(capsys, "does not exist")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an archive at all")
    assert main(["mi", str(garbage)]) == 2
    _one_line_error(capsys, "Could not read")
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((3, 2)))
    assert main(["mi", str(single)]) == 2
    _one_line_error(capsys, "holds a single array")


@pytest.fixture
def eight_clusters(tmp_path):
    """Eight clusters of 16 identical points each in 64 dimensions, centres ~141 apart; labels = cluster."""
    rng = np.random.default_rng(3)
    centres = 100.0 * np.eye(8, 64) + rng.normal(size=(8, 64))
    t = np.repeat(centres, 16, axis=0)
    x = rng.normal(size=(8, 5)).repeat(16, axis=0)  # the inputs: one per cluster, close together
    return tmp_path, t, np.arange(128) // 16, x


@pytest.mark.parametrize("alpha", ["2", "1.01"])
def test_renyi_gives_three_bits_for_eight_far_clusters_in_64_dimensions(eight_clusters, capsys, alpha):
    folder, t, y, _ = eight_clusters
    path = save(folder, t=t, y=y)
    assert main(["mi", path, "--estimator", "renyi", "--alpha", alpha, "--kernel-width", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["i_xt"] == pytest.approx(3.0, abs=1e-9) and result["i_ty"] == pytest.approx(3.0, abs=1e-9)
    assert result["x_variable"] == "sample" and result["kernel"] == "vector 64" and result["entropy_x"] is None
    # the default width rule is relative to the data: eight equidistant clusters are then only nearly apart
    assert main(["mi", path, "--estimator", "renyi", "--alpha", alpha, "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert 2.99 < default["i_xt"] < 3.0 and default["params"]["kernel_width"] == "median"


def test_renyi_takes_x_from_the_archive(eight_clusters, capsys):
    folder, t, y, x = eight_clusters
    path = save(folder, t=t, y=y, x=x)
    assert main(["mi", path, "--estimator", "renyi", "--kernel-width", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "renyi: alpha=2, kernel width 1, tensor kernels" in out
    assert "X          the inputs 'x' of the file" in out and "kernel     vector 64, width 1" in out
    assert main(["mi", path, "--estimator", "renyi", "--kernel-width", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # the inputs sit ~1 apart at width 1: they merge partly, so I(X;T) = S(X) < 3 bits
    assert result["x_variable"] == "input" and result["i_xt"] == pytest.approx(result["entropy_x"], abs=1e-9)
    assert 0.5 < result["i_xt"] < 2.9
    assert main(["mi", path, "--json"]) == 0  # binning takes X to be the sample and ignores x
    assert json.loads(capsys.readouterr().out)["x_variable"] == "sample"
    assert main(["mi", save(folder, "plain.npz", t=t, y=y), "--estimator", "renyi"]) == 0
    assert "X          the sample itself (no 'x' in the file): I(X;T) = S(T)" in capsys.readouterr().out
