"""Optional arrays of a dataset file besides ``x`` and ``y``: display images and attention masks.

Images are shown as stored unless they leave [0, 1]: then they are scaled by the array's
own range (its minimum to its maximum over all images), so 8x8 digits stored as 0..16,
MNIST as 0..255 and standardised images with negative values all show full contrast. A
dataset says otherwise with an ``image_range`` array of two numbers ``[low, high]``
(e.g. ``[0, 255]`` for photos that never reach white): values are then mapped from that
range and clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

from ibviewer.errors import DatasetError

__all__ = ["display_images", "checked_attention_mask"]


def display_images(images: np.ndarray, image_range: np.ndarray | None = None, where: str = "the dataset") -> np.ndarray:
    """``images`` as float32 in [0, 1] for display (see the module docstring).

    Raises
    ------
    DatasetError
        ``image_range`` is not two finite numbers, low below high.
    """
    array = np.asarray(images, dtype=np.float32)
    if image_range is not None:
        bounds = np.asarray(image_range, dtype=np.float64).ravel()
        if bounds.shape != (2,) or not np.isfinite(bounds).all() or not bounds[0] < bounds[1]:
            raise DatasetError(f"{where}: 'image_range' must be two numbers [low, high] with low < high, got {bounds.tolist()}.")
        low, high = float(bounds[0]), float(bounds[1])
        return np.clip((array - low) / (high - low), 0.0, 1.0).astype(np.float32)
    if array.size == 0:
        return array
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if low >= 0.0 and high <= 1.0:
        return array
    if high <= low:
        return np.zeros_like(array)
    return ((array - low) / (high - low)).astype(np.float32)


def checked_attention_mask(mask: np.ndarray, x: np.ndarray, where: str = "the dataset") -> np.ndarray:
    """``mask`` as an int64 (n_samples, length) array of 0/1 matching token inputs ``x``.

    Raises
    ------
    DatasetError
        Another shape than ``x`` (n_samples, length), or values other than 0 and 1.
    """
    array = np.asarray(mask)
    if x.ndim != 2 or array.shape != x.shape:
        raise DatasetError(
            f"{where}: 'attention_mask' has shape {array.shape}; it must match the token inputs 'x' {x.shape} "
            "(one 0/1 per token)."
        )
    if array.dtype == np.bool_:
        array = array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (0, 1)).all():
        raise DatasetError(f"{where}: 'attention_mask' must hold only 0 (padding) and 1 (a real token).")
    return array.astype(np.int64)
