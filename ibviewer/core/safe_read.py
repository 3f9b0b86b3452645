"""Reading files someone else may have written: regular files only, sizes bounded before reading.

Every reader of user data (checkpoints, datasets, run manifests, activation archives)
goes through these helpers, so a hostile or broken file is refused with one line
instead of hanging, filling memory or raising a traceback:

- only regular files are opened, and without blocking (a FIFO, ``/dev/zero`` or a
  socket named as a file is refused, never read);
- what a file *declares* (the shapes in ``.npz`` headers, the tensors of a safetensors
  header, the uncompressed sizes of a zip) is checked against the memory limit before
  any of it is read, so a 1 MB archive cannot expand to gigabytes;
- reads stop at the size the file had when it was opened, and hashing checks for
  cancellation between blocks.

The memory limit is :data:`DEFAULT_MEMORY_LIMIT_GB` unless ``$IBVIEWER_MEMORY_LIMIT_GB``
says otherwise; the activation memory plan (:func:`ibviewer.core.activations.plan_memory`)
uses the same default. No torch here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.errors import IBViewerError

__all__ = [
    "DEFAULT_MEMORY_LIMIT_GB",
    "MEMORY_LIMIT_ENV",
    "memory_limit_gb",
    "check_regular",
    "open_regular",
    "read_bounded",
    "sha256_file",
    "check_declared",
    "DeclaredArray",
    "npz_declared",
    "load_npz",
    "zip_declared_bytes",
    "safetensors_declared",
    "ZIP_ERRORS",
]

DEFAULT_MEMORY_LIMIT_GB = 4.0
MEMORY_LIMIT_ENV = "IBVIEWER_MEMORY_LIMIT_GB"
_BLOCK = 4 << 20
_MAX_MEMBERS = 100_000
_MAX_SAFETENSORS_HEADER = 100 << 20

#: What reading a damaged zip (``.npz``, ``.pt``, ``.pt2``) can raise besides OSError.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, KeyError, NotImplementedError)


def memory_limit_gb() -> float:
    """The memory limit in GB: ``$IBVIEWER_MEMORY_LIMIT_GB`` when set, else :data:`DEFAULT_MEMORY_LIMIT_GB`.

    Raises
    ------
    IBViewerError
        The variable is set to something other than a positive number.
    """
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT_GB
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise IBViewerError(f"${MEMORY_LIMIT_ENV}={text!r} must be a positive number of gigabytes.")
    return value


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.3g} GB"


def check_regular(path: Path, error: type[IBViewerError] = IBViewerError, what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed), or ``error`` when it is missing or not a regular file.

    A folder, a FIFO, a socket or a device (``/dev/zero``) is refused before it is opened:
    reading them would never end or never start.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"The {what} {path} does not exist.") from None
    except OSError as exc:
        raise error(f"Could not read the {what} {path} ({exc.strerror or exc}).") from exc
    if stat.S_ISDIR(info.st_mode):
        raise error(f"The {what} {path} is a folder, not a file.")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"The {what} {path} is not a regular file (a pipe, socket or device); ibviewer reads only files.")
    return info


@contextlib.contextmanager
def open_regular(path: Path, error: type[IBViewerError] = IBViewerError, what: str = "file") -> Iterator[BinaryIO]:
    """Open ``path`` for reading in binary mode, refusing anything but a regular file.

    The file is opened non-blocking and checked with ``fstat`` before it is read, so a
    FIFO put in its place after :func:`check_regular` still never blocks.
    """
    check_regular(path, error, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"Could not open the {what} {path} ({exc.strerror or exc}).") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"The {what} {path} is not a regular file; ibviewer reads only files.")
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bounded(path: Path, max_bytes: int, error: type[IBViewerError] = IBViewerError, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (larger files are refused unread)."""
    with open_regular(path, error, what) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise error(f"The {what} {path} is {size:,} bytes, more than the {max_bytes:,} such a file can sensibly be.")
        return handle.read(size)


def sha256_file(path: Path, progress: Progress = NULL_PROGRESS, error: type[IBViewerError] = IBViewerError) -> str:
    """SHA-256 of a regular file's bytes, read up to the size it had when opened; cancellable between blocks."""
    digest = hashlib.sha256()
    with open_regular(path, error) as handle:
        left = os.fstat(handle.fileno()).st_size
        while left > 0:
            progress.check_cancelled()
            block = handle.read(min(_BLOCK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def check_declared(nbytes: int, path: Path, error: type[IBViewerError] = IBViewerError, *, factor: float = 1.0) -> None:
    """Refuse a file whose declared contents need more memory than the limit.

    ``factor`` is how many bytes of memory reading one declared byte takes at its peak
    (copies made while converting), so that the check holds for the real peak.
    """
    need = nbytes * factor
    limit = memory_limit_gb()
    if need > limit * 1e9:
        raise error(
            f"{Path(path).name} declares data that needs {_gb(need)} of memory to read, above the "
            f"{limit:g} GB limit; it was not read. If the file is genuine, set {MEMORY_LIMIT_ENV} higher."
        )


@dataclass(frozen=True)
class DeclaredArray:
    """An array a file's header announces: its key, shape and dtype (nothing read yet)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _npy_header(handle: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    from numpy.lib import format as npy

    version = npy.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = npy.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(int(s) for s in shape), np.dtype(dtype)


def npz_declared(handle: BinaryIO, path: Path, error: type[IBViewerError] = IBViewerError) -> list[DeclaredArray]:
    """The arrays an open ``.npz`` declares, read from its member headers only.

    Raises ``error`` for a damaged archive, a member that is not an array, or arrays of
    Python objects (which only unpickling could read).
    """
    declared = []
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            if len(members) > _MAX_MEMBERS:
                raise error(f"{path.name} holds {len(members):,} entries; this is not an array archive.")
            for member in members:
                name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
                with archive.open(member) as stream:
                    shape, dtype = _npy_header(stream)  # type: ignore[arg-type]
                if dtype.hasobject:
                    raise error(
                        f"{path.name}: array {name!r} holds Python objects, which can only be read by unpickling "
                        "(code could run); it was refused. Save plain numeric or string arrays."
                    )
                declared.append(DeclaredArray(name, shape, dtype))
    except (OSError, *ZIP_ERRORS) as exc:
        raise error(f"{path.name} is not a readable .npz archive; it is damaged or another kind of file ({_why(exc)}).") from exc
    return declared


def load_npz(
    path: Path,
    error: type[IBViewerError] = IBViewerError,
    *,
    need: Callable[[Sequence[DeclaredArray]], float] | None = None,
    what: str = "file",
) -> dict[str, np.ndarray]:
    """Every array of a ``.npz`` file, after checking what it declares against the memory limit.

    ``need``: the peak bytes of memory reading and converting the declared arrays takes
    (default: their size); checked with :func:`check_declared` before anything is read.
    Never unpickles.
    """
    path = Path(path)
    with open_regular(path, error, what) as handle:
        declared = npz_declared(handle, path, error)
        check_declared(int(need(declared) if need else sum(array.nbytes for array in declared)), path, error)
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (OSError, *ZIP_ERRORS) as exc:
            raise error(f"{path.name} is not a readable .npz archive; it is damaged or truncated ({_why(exc)}).") from exc


def zip_declared_bytes(path: Path, error: type[IBViewerError] = IBViewerError) -> int | None:
    """The total uncompressed size a zip file declares, or None when ``path`` is not a zip."""
    with open_regular(path, error) as handle:
        if handle.read(4) != b"PK\x03\x04":
            return None
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
        except (OSError, *ZIP_ERRORS) as exc:
            raise error(f"Could not read {path.name}: it is truncated, damaged or not a zip archive ({_why(exc)}).") from exc
    if len(members) > _MAX_MEMBERS:
        raise error(f"{path.name} holds {len(members):,} entries; this is not a checkpoint.")
    return sum(member.file_size for member in members)


_SAFETENSORS_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def safetensors_declared(path: Path, error: type[IBViewerError] = IBViewerError) -> dict[str, tuple[int, ...]]:
    """The tensors (name -> shape) a ``.safetensors`` header declares, checked against the file and the limit.

    Raises ``error`` for a header that is not JSON, too long, or whose tensors do not fit in the file.
    """
    path = Path(path)
    with open_regular(path, error) as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(8)
        if len(head) < 8:
            raise error(f"{path.name} is not a valid safetensors file (it is {size} bytes long).")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(_MAX_SAFETENSORS_HEADER, size - 8):
            raise error(f"{path.name} is not a valid safetensors file (its header claims {header_len:,} bytes).")
        try:
            header = json.loads(handle.read(header_len))
        except (ValueError, RecursionError) as exc:
            raise error(f"{path.name} is not a valid safetensors file (its header is not JSON: {_why(exc)}).") from exc
    if not isinstance(header, dict):
        raise error(f"{path.name} is not a valid safetensors file (its header is not a JSON object).")
    body = size - 8 - header_len
    shapes: dict[str, tuple[int, ...]] = {}
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = tuple(int(s) for s in entry["shape"])
            begin, end = (int(v) for v in entry["data_offsets"])
            itemsize = _SAFETENSORS_ITEMSIZE.get(entry["dtype"], 1)
        except (TypeError, ValueError, KeyError) as exc:
            raise error(f"{path.name}: tensor {name!r} has a malformed header entry ({_why(exc)}).") from exc
        if any(s < 0 for s in shape) or not 0 <= begin <= end <= body or math.prod(shape) * itemsize != end - begin:
            raise error(f"{path.name}: tensor {name!r} does not fit the file; it is damaged or truncated.")
        shapes[str(name)] = shape
        total += end - begin
    check_declared(total, path, error)
    return shapes


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
