"""On-disk caches of derived results: content keys and atomic writes.

Every cache entry is one ``.npz`` file (arrays plus a JSON ``__meta__`` string)
under ``<cache root>/<namespace>/<key>.npz``, written to a temporary file in the
same folder and renamed into place, so a crash never leaves a half-written entry.
The root is, in order: the ``cache_dir`` argument, ``$IBVIEWER_CACHE_DIR``,
``$XDG_CACHE_HOME/ibviewer``, ``~/.cache/ibviewer``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "cache_root",
    "hash_arrays",
    "hash_json",
    "atomic_write_bytes",
    "atomic_write_text",
    "save_npz_atomic",
    "DiskCache",
]

logger = logging.getLogger(__name__)

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import: os.umask can only be read by setting it


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder caches live in (see the module docstring for the order)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("IBVIEWER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ibviewer"


def hash_json(value: Any) -> str:
    """A stable hex digest of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def hash_arrays(arrays: Iterable[np.ndarray], extra: Any = None) -> str:
    """A hex digest of arrays' dtypes, shapes and bytes, plus an optional JSON value."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.size:  # memoryview cannot cast an empty array
            digest.update(memoryview(array).cast("B"))
    if extra is not None:
        digest.update(hash_json(extra).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A temporary file beside ``path`` that replaces it on success and vanishes on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are ordinary files
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        _remove_quietly(Path(tmp_name))
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with _atomic_file(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> None:
    """Save arrays (and a JSON ``meta`` mapping) as an uncompressed .npz, atomically."""
    payload = dict(arrays)
    if meta is not None:
        payload["__meta__"] = np.array(json.dumps(meta, default=str))
    with _atomic_file(path) as handle:
        np.savez(handle, **payload)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


#: a temporary file untouched for this long was left by a process that died while writing it
ORPHAN_AGE_S = 15 * 60
_warned_folders: set[Path] = set()


class DiskCache:
    """A namespace of ``key -> (arrays, meta)`` entries on disk.

    Temporary files that a killed process left behind (untouched for :data:`ORPHAN_AGE_S`)
    are removed when the namespace is first opened in a process; an unreadable or wrong
    entry is dropped and recomputed, with one warning per folder and process.

    Parameters
    ----------
    namespace : str
        Sub-folder, e.g. ``"activations"`` or ``"embeddings"``.
    cache_dir : path, optional
        Root folder; see :func:`cache_root`.
    enabled : bool, default=True
        When False, ``get`` always misses and ``put`` does nothing.
    """

    def __init__(self, namespace: str, cache_dir: str | os.PathLike[str] | None = None, enabled: bool = True) -> None:
        self.namespace = namespace
        self.folder = cache_root(cache_dir) / namespace
        self.enabled = enabled
        if enabled:
            self.remove_orphans()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def remove_orphans(self, max_age_s: float = ORPHAN_AGE_S) -> int:
        """Remove temporary files of interrupted writes older than ``max_age_s``; returns how many."""
        removed = 0
        now = time.time()
        try:
            candidates = list(self.folder.glob(".*.tmp"))
        except OSError:
            return 0
        for path in candidates:
            try:
                if now - path.stat().st_mtime > max_age_s:
                    path.unlink()
                    removed += 1
            except OSError:
                continue  # gone already, or another process's: leave it
        if removed:
            logger.info("removed %d temporary files left by interrupted writes in %s", removed, self.folder)
        return removed

    def drop(self, key: str, why: str) -> None:
        """Remove the entry ``key`` (unreadable or not what its key promises); warns once per folder."""
        self._warn(f"dropping cache entry {self.path(key).name} ({why}); it is recomputed")
        _remove_quietly(self.path(key))

    def _warn(self, message: str) -> None:
        if self.folder in _warned_folders:
            logger.info(message)
            return
        _warned_folders.add(self.folder)
        logger.warning("%s; further cache problems in %s are logged at INFO level (-v)", message, self.folder)

    def get(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The entry for ``key``, or None; an unreadable entry is dropped and counts as a miss."""
        if not self.enabled:
            return None
        path = self.path(key)
        if not path.exists():
            return None
        try:
            # an open handle, closed whatever happens: np.load(path) leaks it when the zip is damaged
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files if name != "__meta__"}
                meta = json.loads(str(archive["__meta__"])) if "__meta__" in archive.files else {}
        except Exception as exc:  # a damaged entry must never break the app: recompute instead
            self.drop(key, f"unreadable: {exc}")
            return None
        return arrays, meta

    def put(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        try:
            save_npz_atomic(self.path(key), arrays, meta)
        except OSError as exc:  # a full or read-only disk loses the cache, not the result
            self._warn(f"could not write cache entry {self.path(key).name} ({exc})")
