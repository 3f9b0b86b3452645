"""Datasets a run can be analysed on: built-ins (digits, ib12), .npz files and MNIST idx files."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ibviewer.core.dataset_extras import checked_attention_mask, display_images
from ibviewer.core.safe_read import check_declared, load_npz, open_regular
from ibviewer.core.types import Dataset
from ibviewer.errors import DatasetError

__all__ = ["load_dataset", "require_finite", "digits", "ib12", "ib12_label", "BUILTIN_DATASETS"]

BUILTIN_DATASETS = ("digits", "ib12")


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64) in 0..16, targets) of scikit-learn's bundled digits.

    Read straight from scikit-learn's ``datasets/data/digits.csv.gz`` (what ``load_digits``
    reads) without importing scikit-learn: its import (SciPy included) is seconds of a
    cached launch that needs nothing else from it. ``load_digits`` when the file is elsewhere.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1], data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data, bunch.target.astype(np.int64)


def digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits: 1797 images, 10 classes, inputs scaled to [0, 1]."""
    pixels, target = _digits_arrays()
    images = (pixels.reshape(-1, 8, 8) / 16.0).astype(np.float32)
    return Dataset(
        name="digits",
        spec="digits",
        kind="images",
        x=images.reshape(len(images), -1),
        y=target,
        label_names=tuple(str(i) for i in range(10)),
        images=images,
    )


def ib12_label(bits: np.ndarray) -> np.ndarray:
    """The binary label of the ib12 task for (n, 12) arrays of 0/1 bits.

    Shwartz-Ziv & Tishby (2017) label their 12-bit inputs (points on a sphere)
    by thresholding a spherically symmetric function of them, which makes the
    label depend on the whole input in a non-linear, symmetric way with about
    half of the inputs positive. Their exact partition ships only as a data
    file, so ib12 uses a documented rule of the same character:

        read the bits as a point s = 2*bits - 1 in {-1, +1}^12; the label is 1 when
        f(s) = sum_i s_i * s_{(i+1) mod 12}  (nearest-neighbour couplings on a ring)
             + sum_i s_i * s_{(i+4) mod 12}  (couplings across the ring)
        is greater than 0, or equals 0 and s_0 = +1 (ties are split by the first bit).

    f is invariant under flipping all bits and under rotations by 4 positions,
    so the label is a symmetric, non-linear function of every bit.
    """
    s = 2.0 * np.asarray(bits, dtype=np.float64) - 1.0
    if s.ndim != 2 or s.shape[1] != 12:
        raise DatasetError(f"ib12 labels need (n, 12) bit arrays, got shape {s.shape}.")
    f = (s * np.roll(s, -1, axis=1)).sum(axis=1) + (s * np.roll(s, -4, axis=1)).sum(axis=1)
    return ((f > 0) | ((f == 0) & (s[:, 0] > 0))).astype(np.int64)


def ib12() -> Dataset:
    """All 4096 12-bit inputs (bit 0 is the least significant) with the ib12 label."""
    codes = np.arange(4096, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(12)) & 1).astype(np.float32)
    return Dataset(
        name="ib12",
        spec="ib12",
        kind="bits",
        x=bits,
        y=ib12_label(bits),
        label_names=("0", "1"),
    )


def load_dataset(spec: str | Path, base_dir: Path | None = None, *, confine_to: Path | None = None) -> Dataset:
    """Make a dataset from a spec.

    Files are read only if they are regular files whose declared contents fit the memory
    limit (:mod:`ibviewer.core.safe_read`), and inputs must be finite.

    Parameters
    ----------
    spec : str or Path
        ``"digits"``, ``"ib12"``, a ``.npz`` file (keys ``x``, ``y``; optional
        ``label_names``, ``images`` with ``image_range``, ``words``, ``attention_mask``; see
        :mod:`ibviewer.core.dataset_extras`), or MNIST idx images, given as the
        images file (``*-images-idx3-ubyte[.gz]``) whose labels file lies beside it.
    base_dir : Path, optional
        Folder relative paths are resolved against (a run's folder).
    confine_to : Path, optional
        Every file read must resolve inside this (resolved) folder: the MNIST labels file
        found beside a run folder's images file too.

    Raises
    ------
    DatasetError
        Unknown name, missing, malformed or oversized file, NaN or infinite inputs.
    """
    text = str(spec)
    if text in BUILTIN_DATASETS:
        return digits() if text == "digits" else ib12()
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = Path(base_dir) / path
    if not path.exists():
        raise DatasetError(
            f"Dataset {text!r} is neither a built-in ({', '.join(BUILTIN_DATASETS)}) nor an existing file. "
            "Give a built-in name, a .npz file with 'x' and 'y', or an MNIST idx images file."
        )
    name = path.name
    if name.endswith(".npz"):
        return require_finite(_load_npz(path))
    if "idx" in name or name.endswith("ubyte") or name.endswith("ubyte.gz"):
        return _load_mnist(path, confine_to)
    raise DatasetError(
        f"Dataset file {path} has an unknown type. Use a .npz file with 'x' and 'y' arrays "
        "or MNIST idx files (e.g. train-images-idx3-ubyte.gz)."
    )


#: peak bytes of memory per declared byte while a dataset is converted (float32 copies of x and images)
_NPZ_PEAK = 3.0
#: ... and for MNIST bytes: uint8 -> float32 (4 bytes) plus the raw bytes
_IDX_PEAK = 5.0


def require_finite(data: Dataset) -> Dataset:
    """Refuse NaN or infinite inputs here, so that they are never blamed on a model's weights later."""
    if np.issubdtype(data.x.dtype, np.floating) and not np.isfinite(data.x).all():
        n_bad = int((~np.isfinite(data.x)).sum())
        raise DatasetError(
            f"Dataset {data.name} has {n_bad} NaN or infinite input values. Clean the data (e.g. np.nan_to_num) "
            "before analysing it."
        )
    return data


def _load_npz(path: Path) -> Dataset:
    arrays = load_npz(path, DatasetError, need=lambda declared: _NPZ_PEAK * sum(a.nbytes for a in declared), what="dataset")
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise DatasetError(
            f"Dataset {path} lacks {' and '.join(repr(m) for m in missing)}; it has {sorted(arrays)}. "
            "A dataset .npz needs 'x' (inputs) and 'y' (integer labels)."
        )
    x, y = arrays["x"], arrays["y"]
    if x.ndim == 0 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise DatasetError(f"Dataset {path}: 'x' has {x.shape[0]} samples but 'y' has shape {y.shape}.")
    if x.shape[0] == 0:
        raise DatasetError(f"Dataset {path} is empty.")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"Dataset {path}: 'y' must hold integer class labels, got {y.dtype}.")
    if y.min() < 0:
        raise DatasetError(f"Dataset {path}: labels must be >= 0.")
    label_names = tuple(str(s) for s in arrays["label_names"]) if "label_names" in arrays else None
    words = tuple(str(s) for s in arrays["words"]) if "words" in arrays else None
    images = arrays.get("images")
    if images is not None:
        images = display_images(images, arrays.get("image_range"), str(path))
    mask = arrays.get("attention_mask")
    if mask is not None:
        mask = checked_attention_mask(mask, x, str(path))
    if words is not None and len(words) != x.shape[0]:
        raise DatasetError(f"Dataset {path}: 'words' has {len(words)} entries for {x.shape[0]} samples.")
    if np.issubdtype(x.dtype, np.integer) and x.ndim == 2:
        kind = "tokens"
    elif images is not None or x.ndim >= 3:
        kind = "images"
        if images is None and x.ndim in (3, 4):
            images = _images_from_x(x)
    else:
        kind = "features"
    return Dataset(
        name=path.name,
        spec=str(path),
        kind=kind,  # type: ignore[arg-type]
        x=x,
        y=y.astype(np.int64),
        label_names=label_names,
        images=images,
        words=words,
        attention_mask=mask,
    )


def _images_from_x(x: np.ndarray) -> np.ndarray:
    images = np.asarray(x, dtype=np.float32)
    if images.ndim == 4:  # (N, C, H, W) -> (N, H, W[, 3])
        images = images[:, 0] if images.shape[1] == 1 else np.moveaxis(images[:, :3], 1, -1)
    lo, hi = float(images.min()), float(images.max())
    return (images - lo) / (hi - lo) if hi > lo else np.zeros_like(images)


def _read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte idx file (optionally gzipped): the header is checked before the body is read."""
    try:
        with open_regular(path, DatasetError, "MNIST idx file") as raw:
            handle = gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
            head = handle.read(4)
            if len(head) < 4 or head[:3] != b"\x00\x00\x08" or not 1 <= head[3] <= 4:
                raise DatasetError(f"{path} is not an unsigned-byte idx file (bad magic number {head!r}).")
            dims = handle.read(4 * head[3])
            if len(dims) < 4 * head[3]:
                raise DatasetError(f"{path} is truncated inside its idx header.")
            shape = struct.unpack(">" + "I" * head[3], dims)
            count = math.prod(shape)
            check_declared(count, path, DatasetError, factor=_IDX_PEAK)
            data = handle.read(count)
            extra = handle.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"Could not read MNIST idx file {path} ({exc}).") from exc
    if len(data) != count:
        raise DatasetError(f"{path} is truncated: expected {count} values, found {len(data)}.")
    if extra:
        raise DatasetError(f"{path} holds more data than its idx header declares {shape}; it is damaged.")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _load_mnist(path: Path, confine_to: Path | None = None) -> Dataset:
    name = path.name
    if "images" in name:
        labels_path = path.with_name(name.replace("images-idx3", "labels-idx1").replace("images", "labels"))
        images_path = path
    else:
        images_path = path.with_name(name.replace("labels-idx1", "images-idx3").replace("labels", "images"))
        labels_path = path
    if not labels_path.exists() or not images_path.exists():
        raise DatasetError(
            f"MNIST needs both the images and the labels idx file; looked for {images_path.name} "
            f"and {labels_path.name} in {path.parent}."
        )
    for file in (images_path, labels_path):
        if confine_to is not None and not file.resolve().is_relative_to(confine_to):
            raise DatasetError(f"{file.name} leads outside the run folder {confine_to}; a run folder may only name files inside itself.")
    images = _read_idx(images_path)
    labels = _read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DatasetError(f"MNIST files {images_path.name} and {labels_path.name} do not match: {images.shape} vs {labels.shape}.")
    if labels.shape[0] == 0:
        raise DatasetError(f"MNIST files {images_path.name} and {labels_path.name} hold no samples.")
    scaled = images.astype(np.float32) / 255.0
    return Dataset(
        name=images_path.name,
        spec=str(images_path),
        kind="images",
        x=scaled[:, None, :, :],
        y=labels.astype(np.int64),
        label_names=tuple(str(i) for i in range(int(labels.max()) + 1)),
        images=scaled,
    )
