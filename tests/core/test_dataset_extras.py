"""Dataset files' images in any value range, and attention masks for token inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.dataset_extras import checked_attention_mask, display_images
from ibviewer.core.datasets import load_dataset
from ibviewer.errors import DatasetError


def test_images_are_scaled_by_their_own_range(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()  # values 0..16: dividing by 255 would wash them out
    path = tmp_path / "digits16.npz"
    np.savez(path, x=digits.data[:50], y=digits.target[:50], images=digits.images[:50])
    images = load_dataset(path).images
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images, digits.images[:50] / 16.0, atol=1e-6)


def test_images_in_zero_one_stay_and_a_stated_range_wins():
    dim = np.full((2, 3, 3), 0.25, np.float32)
    np.testing.assert_array_equal(display_images(dim), dim)  # already display values: not stretched
    standardised = np.array([[[-2.0, 0.0], [2.0, 1.0]]])
    np.testing.assert_allclose(display_images(standardised), [[[0.0, 0.5], [1.0, 0.75]]])
    photos = np.array([[[0, 100], [200, 255]]], np.uint8)
    np.testing.assert_allclose(display_images(photos, np.array([0, 510])), [[[0.0, 100 / 510], [200 / 510, 0.5]]])
    np.testing.assert_allclose(display_images(photos, np.array([50, 150])), [[[0.0, 0.5], [1.0, 1.0]]])  # clipped
    with pytest.raises(DatasetError, match="image_range"):
        display_images(photos, np.array([5, 5]))


def test_the_image_range_of_a_dataset_file_is_used(tmp_path):
    path = tmp_path / "dark.npz"
    images = np.array([[[0, 20], [40, 60]]] * 4, np.uint8)
    np.savez(path, x=images.reshape(4, -1).astype(np.float32), y=np.arange(4), images=images, image_range=[0, 255])
    np.testing.assert_allclose(load_dataset(path).images[0], images[0] / 255.0, atol=1e-6)


def test_attention_masks_are_read_and_checked(tmp_path):
    x = np.array([[3, 4, 0], [5, 0, 0]])
    path = tmp_path / "tokens.npz"
    np.savez(path, x=x, y=np.array([0, 1]), attention_mask=(x > 0))
    data = load_dataset(path)
    assert data.kind == "tokens" and data.attention_mask.tolist() == [[1, 1, 0], [1, 0, 0]]
    assert data.summary()["has_attention_mask"] is True
    with pytest.raises(DatasetError, match="must match the token inputs"):
        checked_attention_mask(np.ones((2, 4)), x)
    with pytest.raises(DatasetError, match="only 0"):
        checked_attention_mask(np.full((2, 3), 2), x)
    np.savez(path, x=x, y=np.array([0, 1]), attention_mask=np.ones((2, 2)))
    with pytest.raises(DatasetError, match="attention_mask"):
        load_dataset(path)
