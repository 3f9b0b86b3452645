"""The run format's one definition: parsing and checking run.json, writing it, the split file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ibviewer.core import run_format as rf
from ibviewer.errors import RunFormatError


def _manifest() -> rf.Manifest:
    return rf.Manifest(
        factory="ibviewer.models:mlp", dataset="digits", kwargs={"sizes": [64, 10]}, name="m", layers=("net.1",),
        split=rf.SPLIT_NAME, extra={"seed": 0},
        epochs=(rf.ManifestEpoch(0, rf.weights_name(0)), rf.ManifestEpoch(10, rf.weights_name(10), {"loss": 0.5})),
    )  # fmt: skip


def test_a_manifest_survives_writing_and_reading(tmp_path):
    manifest = _manifest()
    (tmp_path / rf.MANIFEST_NAME).write_text(manifest.to_json())
    assert rf.read_manifest(tmp_path / rf.MANIFEST_NAME) == manifest
    text = manifest.to_json()
    assert list(json.loads(text)) == ["format", "version", "name", "model", "dataset", "layers", "split", "epochs", "extra"]
    # one line per epoch, so a run with hundreds of snapshots stays readable
    assert '  {"epoch": 10, "weights": "weights/epoch_000010.safetensors", "metrics": {"loss": 0.5}}' in text.splitlines()
    assert rf.weights_name(10) == "weights/epoch_000010.safetensors"


def test_optional_fields_are_left_out_and_unknown_keys_ignored():
    minimal = rf.Manifest(factory="m:f", dataset="ib12")
    assert minimal.to_dict() == {"format": "ibviewer-run", "version": 1, "model": {"factory": "m:f", "kwargs": {}},
                                 "dataset": "ib12", "epochs": []}  # fmt: skip
    parsed = rf.parse_manifest(dict(minimal.to_dict(), added_in_1_1={"x": 1}))
    assert parsed == minimal


@pytest.mark.parametrize("data, message", [
    ([], "not an ibviewer run manifest"),
    ({"format": "other"}, "not an ibviewer run manifest"),
    ({"format": "ibviewer-run", "version": 2}, "version 2; this ibviewer reads and writes version 1. Upgrade ibviewer"),
    ({"format": "ibviewer-run", "version": "1"}, "version '1'"),
    ({"format": "ibviewer-run", "version": 1, "model": "m:f"}, '"model" must be an object'),
    ({"format": "ibviewer-run", "version": 1, "model": {"factory": 3}}, "factory must be"),
    ({"format": "ibviewer-run", "version": 1, "model": {"factory": "m:f", "kwargs": [1]}}, "kwargs must be"),
    ({"format": "ibviewer-run", "version": 1, "layers": "net.1"}, '"layers" must be a list'),
    ({"format": "ibviewer-run", "version": 1, "epochs": {"0": "w"}}, '"epochs" must be a list'),
    ({"format": "ibviewer-run", "version": 1, "epochs": [{"epoch": "x", "weights": "w"}]}, "is malformed"),
    ({"format": "ibviewer-run", "version": 1, "epochs": [{"epoch": 1, "weights": ""}]}, "is malformed"),
    ({"format": "ibviewer-run", "version": 1, "epochs": [{"epoch": 1, "weights": "w", "metrics": {"a": "b"}}]},
     "is malformed"),
    ({"format": "ibviewer-run", "version": 1, "epochs": [{"epoch": 1, "weights": "a"}, {"epoch": 1, "weights": "b"}]},
     "listed more than once"),
])  # fmt: skip
def test_invalid_manifests_are_refused_naming_the_file(data, message):
    with pytest.raises(RunFormatError, match=message) as info:
        rf.parse_manifest(data, "runs/x/run.json")
    assert "runs/x/run.json" in str(info.value)


def test_unreadable_files_and_splits(tmp_path):
    (tmp_path / "run.json").write_text('{"format": "ibviewer-ru')
    with pytest.raises(RunFormatError, match="Could not read .*run.json.*JSON manifest"):
        rf.read_manifest(tmp_path / "run.json")
    np.savez(tmp_path / rf.SPLIT_NAME, test_indices=np.array([3, 1], np.int32))
    split = rf.read_split(tmp_path / rf.SPLIT_NAME)
    assert split.dtype == np.int64 and split.tolist() == [3, 1]
    np.savez(tmp_path / "other.npz", something=np.arange(3))
    with pytest.raises(RunFormatError, match="test split other.npz"):
        rf.read_split(tmp_path / "other.npz")
