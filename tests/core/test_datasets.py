"""Built-in datasets and dataset files."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.datasets import ib12, ib12_label, load_dataset
from ibviewer.errors import DatasetError


def test_ib12_is_all_4096_inputs_about_half_positive_depending_on_every_bit():
    data = ib12()
    assert data.x.shape == (4096, 12) and len({tuple(row) for row in data.x.astype(int)}) == 4096
    assert 0.45 < data.y.mean() < 0.55
    bits = data.x.astype(int)
    for i in range(12):
        flipped = bits.copy()
        flipped[:, i] ^= 1
        assert (ib12_label(flipped) != data.y).mean() > 0.05, f"bit {i} barely matters"


def test_ib12_label_is_not_linearly_separable():
    from sklearn.linear_model import LogisticRegression

    data = ib12()
    assert LogisticRegression(max_iter=2000).fit(data.x, data.y).score(data.x, data.y) < 0.8


def test_digits():
    data = load_dataset("digits")
    assert data.x.shape == (1797, 64) and data.images.shape == (1797, 8, 8)
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0 and data.n_classes == 10


def test_digits_are_scikit_learns_read_without_importing_it():
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = load_dataset("digits")
    np.testing.assert_array_equal(data.images, (bunch.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(data.y, bunch.target)
    code = "import sys; from ibviewer.core.datasets import digits; digits(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # a cached launch of the digits sample does not pay scikit-learn's import


def test_npz_with_optional_keys(tmp_path, rng):
    np.savez(tmp_path / "d.npz", x=rng.random((5, 3, 4, 4), dtype=np.float32), y=np.array([0, 1, 2, 1, 0]),
             label_names=np.array(["cat", "dog", "eel"]))
    data = load_dataset(tmp_path / "d.npz")
    assert data.kind == "images" and data.images.shape == (5, 4, 4, 3)
    assert data.class_name(2) == "eel" and data.sample_name(3) == "#3"


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [({"x": np.zeros((3, 2))}, "lacks 'y'"),
     ({"x": np.zeros((3, 2)), "y": np.zeros(4, int)}, "3 samples"),
     ({"x": np.zeros((3, 2)), "y": np.zeros(3)}, "integer class labels"),
     ({"x": np.zeros((2, 2)), "y": np.zeros(2, int), "words": np.array(["a"])}, "'words' has 1 entries")],
)
def test_bad_npz_datasets(tmp_path, arrays, needle):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=needle):
        load_dataset(tmp_path / "bad.npz")


def test_truncated_mnist_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2]))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9]) + bytes(9))
    with pytest.raises(DatasetError, match="truncated"):
        load_dataset(tmp_path / "train-images-idx3-ubyte")
