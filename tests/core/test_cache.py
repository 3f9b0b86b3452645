"""The disk cache: round trips, atomic writes, damaged entries, opting out."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ibviewer.core.cache import DiskCache, atomic_write_text, cache_root, hash_arrays


def test_round_trip_and_meta(tmp_path):
    cache = DiskCache("things", tmp_path)
    cache.put("k1", {"a": np.arange(5.0)}, {"note": "x"})
    arrays, meta = cache.get("k1")
    np.testing.assert_array_equal(arrays["a"], np.arange(5.0))
    assert meta == {"note": "x"}
    assert cache.get("missing") is None


def test_disabled_cache_neither_reads_nor_writes(tmp_path):
    cache = DiskCache("things", tmp_path, enabled=False)
    cache.put("k", {"a": np.zeros(2)})
    assert cache.get("k") is None and not (tmp_path / "things").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_hash_changes_with_content_dtype_and_shape():
    a = np.arange(6, dtype=np.float32)
    keys = {hash_arrays([a]), hash_arrays([a.astype(np.float64)]), hash_arrays([a.reshape(2, 3)]),
            hash_arrays([a + 1]), hash_arrays([a], extra={"p": 1})}
    assert len(keys) == 5
    assert hash_arrays([a]) == hash_arrays([a.copy()])


def test_cache_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("IBVIEWER_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("IBVIEWER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "ibviewer"


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        import importlib

        import ibviewer.core.cache as cache_module

        importlib.reload(cache_module)
        cache_module.atomic_write_text(tmp_path / "a.txt", "x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


def test_temporaries_left_by_killed_writes_are_removed_and_live_ones_kept(tmp_path):
    folder = tmp_path / "activations"
    folder.mkdir()
    orphan, live = folder / ".abc.npz.x1.tmp", folder / ".def.npz.x2.tmp"
    orphan.write_bytes(b"\0" * 1000)
    live.write_bytes(b"\0" * 1000)
    old = os.stat(orphan).st_mtime - 3600
    os.utime(orphan, (old, old))
    DiskCache("activations", tmp_path)
    assert not orphan.exists() and live.exists()  # another process may still be writing the fresh one


def test_damaged_entries_warn_once_per_folder(tmp_path, caplog):
    cache = DiskCache("things", tmp_path / "once")
    for key in ("a", "b", "c"):
        cache.path(key).parent.mkdir(parents=True, exist_ok=True)
        cache.path(key).write_bytes(b"PK\x03\x04 damaged")
        assert cache.get(key) is None and not cache.path(key).exists()
    assert [r.levelname for r in caplog.records if "cache" in r.getMessage()].count("WARNING") == 1
