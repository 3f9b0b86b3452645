"""What keeps a plane honest: the shuffled-label null, near-ceiling and DPI flags, the range each layer used."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibviewer.core.information import compute_information_plane, mutual_information
from ibviewer.core.information.plane import NULL_PERMUTATIONS
from ibviewer.core.types import ActivationSet, LayerInfo


def _acts(values: dict[str, np.ndarray], labels: np.ndarray, key: str) -> ActivationSet:
    """One epoch per row of ``values[name]`` (n_epochs, n_samples, dim)."""
    layers = tuple(LayerInfo(name, "Linear", (v.shape[-1],), v.shape[-1]) for name, v in values.items())
    epochs = tuple(range(next(iter(values.values())).shape[0]))
    return ActivationSet(layers, epochs, {k: v.astype(np.float32) for k, v in values.items()}, labels,
                         np.arange(len(labels)), key=key)  # fmt: skip


def test_the_null_of_a_label_code_is_near_zero_and_of_a_layer_at_the_ceiling_is_the_whole_label_entropy(tmp_path):
    rng = np.random.default_rng(0)
    n = 2000
    labels = rng.integers(0, 4, n)
    code = np.eye(4)[labels] * 0.5  # four codes, one per label: I(T;Y) = H(Y)
    unique = rng.uniform(-1, 1, (n, 16))  # every sample in its own bin
    with pytest.warns(UserWarning, match="'unique' sits at the ceiling"):
        plane = compute_information_plane(
            _acts({"code": code[None], "unique": unique[None]}, labels, "null"), "binning", cache_dir=tmp_path
        )
    h_y = plane.h_y
    assert plane.i_ty[0, 0] == pytest.approx(h_y, abs=1e-12)
    # the labels shuffled: 4 codes x 4 labels leave only the plug-in bias, ~ (4-1)(4-1) / (2 N ln 2) bits
    bias = 9 / (2 * n * math.log(2))
    assert 0 < plane.i_ty_null[0, 0] < 3 * bias and plane.i_ty_null_sd[0, 0] > 0
    # a layer that resolves every sample "knows" any labelling: its null is H(Y) itself, with no spread
    assert plane.i_ty[0, 1] == pytest.approx(h_y, abs=1e-12)
    assert plane.i_ty_null[0, 1] == pytest.approx(h_y, abs=1e-12) and plane.i_ty_null_sd[0, 1] == pytest.approx(0, abs=1e-12)
    assert plane.near_ceiling.tolist() == [[False, True]]
    # the null is the mean over seeded permutations: the same permutations give the same numbers
    shuffled = [np.random.default_rng(0).permutation(labels) for _ in range(1)]
    first = mutual_information(code, shuffled[0])["i_ty"]
    assert NULL_PERMUTATIONS >= 3 and abs(first - plane.i_ty_null[0, 0]) < 4 * bias


def test_a_layer_one_tenth_of_a_bit_below_the_ceiling_is_flagged_though_not_every_sample_has_its_own_bin(tmp_path):
    # ib12's net.3 sits at 11.98 of 12 bits: 4096 samples, the first 200 merged in pairs
    n = 4096
    index = np.arange(n)
    t = np.where(index < 200, index // 2 * 2, index).astype(np.float64)[:, None]
    labels = index % 2
    plane = compute_information_plane(
        _acts({"t": t[None]}, labels, "near"), "binning", bin_width=1.0, value_range=(0.0, float(n)), cache_dir=tmp_path
    )
    assert plane.i_xt[0, 0] == pytest.approx(12 - 200 / n, abs=1e-9)
    assert not plane.saturated[0, 0] and plane.near_ceiling[0, 0]
    far = compute_information_plane(
        _acts({"t": (t // 4)[None]}, labels, "far"), "binning", bin_width=1.0, value_range=(0.0, float(n)), cache_dir=tmp_path
    )
    assert far.i_xt[0, 0] < 11 and not far.near_ceiling[0, 0]


def test_a_deeper_layer_with_more_label_information_than_an_earlier_one_violates_the_dpi(tmp_path):
    rng = np.random.default_rng(1)
    n = 1000
    labels = rng.integers(0, 2, n)
    blind = rng.integers(0, 2, (n, 1)) * 0.5  # knows nothing of the label
    knows = labels[:, None] * 0.5  # the label itself
    almost = np.where(rng.uniform(size=(n, 1)) < 0.99, knows, 0.5 - knows)  # 1% flipped: a little less
    values = {"blind": blind[None], "knows": knows[None], "almost": almost[None]}
    plane = compute_information_plane(_acts(values, labels, "dpi"), "binning", cache_dir=tmp_path)
    # blind -> knows: I(T;Y) rises by ~1 bit, far beyond the noise; knows -> almost: falls, as it should
    assert plane.dpi_violation.tolist() == [[False, True, True]]  # almost also exceeds blind
    ordered = compute_information_plane(
        _acts({"knows": knows[None], "almost": almost[None], "blind": blind[None]}, labels, "dpi-ordered"),
        "binning", cache_dir=tmp_path,
    )  # fmt: skip
    assert not ordered.dpi_violation.any()
    # a rise within the estimator's noise (two unrelated coarse codes) is not a violation
    other = rng.integers(0, 2, (n, 1)) * 0.5
    noise = compute_information_plane(
        _acts({"blind": blind[None], "other": other[None]}, labels, "dpi-noise"), "binning", cache_dir=tmp_path
    )
    assert not noise.dpi_violation.any()


def test_the_plane_records_each_layers_range_and_warns_about_values_outside_a_fixed_one(tmp_path):
    rng = np.random.default_rng(2)
    n = 500
    labels = rng.integers(0, 3, n)
    relu = (2.0 + labels[:, None] + rng.uniform(0, 0.5, (n, 2)))[None] * np.array([1.0, 1.5])[:, None, None]
    tanh = np.tanh(rng.normal(size=(2, n, 3)))
    acts = _acts({"tanh": tanh, "relu": relu}, labels, "ranges")
    plane = compute_information_plane(acts, "binning", cache_dir=tmp_path)
    stored = acts.values["relu"]  # float32, the values the bins saw
    assert plane.value_ranges() == {"tanh": (-1.0, 1.0), "relu": (float(stored.min()), float(stored.max()))}
    assert plane.i_xt[:, 1].min() > 1.5  # not collapsed into the top bin
    assert plane.warnings == ()
    with pytest.warns(UserWarning, match=r"'relu' has values outside the fixed range \[-1, 1\] in 2 of 2 epochs"):
        fixed = compute_information_plane(acts, "binning", value_range=(-1, 1), cache_dir=tmp_path)
    assert fixed.i_xt[:, 1] == pytest.approx([0.0, 0.0], abs=1e-12)  # all values share the top bin
    assert (fixed.cell_outputs["out_of_range"][:, 1] == 1.0).all() and (fixed.cell_outputs["out_of_range"][:, 0] == 0).all()


def test_the_csv_stays_a_plain_table_and_its_json_sidecar_says_how_the_plane_was_made(tmp_path):
    import csv
    import json

    from ibviewer.core.information import write_infoplane_csv

    rng = np.random.default_rng(3)
    n = 300
    labels = rng.integers(0, 3, n)
    relu = np.round(np.maximum(rng.normal(size=(2, n, 2)) * 3, 0))
    tanh = np.round(np.tanh(rng.normal(size=(2, n, 2))), 1)
    acts = _acts({"tanh": tanh, "relu": relu}, labels, "sidecar")
    acts = ActivationSet(acts.layers, acts.epochs, acts.values, labels, np.arange(n) * 3 + 1, key="sidecar")
    plane = compute_information_plane(acts, "binning", n_bins=10, cache_dir=tmp_path)
    path = write_infoplane_csv(plane, tmp_path / "out" / "infoplane.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and float(rows[3]["i_ty_null"]) == plane.i_ty_null[1, 1]
    assert float(rows[1]["range_high"]) == float(acts.values["relu"].max()) and rows[0]["range_low"] == "-1.0"
    meta = json.loads((tmp_path / "out" / "infoplane.json").read_text())
    assert meta["csv"] == "infoplane.csv" and meta["n_samples"] == n
    assert meta["sample_indices"] == [int(i) for i in np.arange(n) * 3 + 1]
    assert meta["estimator"] == "binning" and meta["params"] == {"n_bins": 10, "bin_width": None, "value_range": "auto"}
    assert meta["value_ranges"] == {"tanh": [-1.0, 1.0], "relu": [0.0, float(acts.values["relu"].max())]}
    assert meta["chain"] == ["X", "tanh", "relu", "Y"] and meta["epochs"] == [0, 1]
    assert meta["null"]["permutations"] == NULL_PERMUTATIONS and meta["ceilings"]["i_xt"] == pytest.approx(math.log2(n))
    # a cached plane keeps the indices
    again = compute_information_plane(acts, "binning", n_bins=10, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.sample_idx, np.arange(n) * 3 + 1)


@pytest.mark.parametrize("alpha", [2.0, 1.01])
def test_renyis_null_in_one_pass_equals_one_fit_per_shuffled_labelling(alpha):
    from ibviewer.core.information import make_estimator
    from ibviewer.core.information.plane import _null_labelings

    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 200)
    t = rng.normal(size=(200, 5)) + labels[:, None]
    fitted = make_estimator("renyi", alpha=alpha, device="cpu").fit(t, labels)
    labelings = _null_labelings(labels)
    null = fitted.null_i_ty(t, labelings, 3)
    separate = [make_estimator("renyi", alpha=alpha, device="cpu").fit(t, ids).i_ty_ for ids in labelings]
    np.testing.assert_allclose(null, separate, atol=1e-9)
    assert null.max() < fitted.i_ty_  # shuffled labels: below the real I(T;Y), yet far from 0 for renyi
