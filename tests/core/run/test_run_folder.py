"""ibviewer run folders: the manifest, its weights, split, layers and extra."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ibviewer.core.run import open_run
from ibviewer.errors import IBViewerError, RunFormatError

MODEL_PY = "from torch import nn\n\ndef build(hidden):\n    return nn.Sequential(nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, 10))\n"


def _run_folder(tmp_path, epochs=(0, 4), **manifest_extra):
    """A hand-written run folder (float16 weights, epochs listed in reverse) on the digits dataset."""
    torch.manual_seed(1)
    folder = tmp_path / "myrun"
    (folder / "weights").mkdir(parents=True)
    entries = []
    for epoch in epochs:
        model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
        save_file({k: v.half() for k, v in model.state_dict().items()}, folder / f"weights/epoch_{epoch:06d}.safetensors")
        entries.append({"epoch": epoch, "weights": f"weights/epoch_{epoch:06d}.safetensors", "metrics": {"loss": 1.5 - epoch / 10}})
    (folder / "model.py").write_text(MODEL_PY)
    manifest = {"format": "ibviewer-run", "version": 1, "model": {"factory": "model.py:build", "kwargs": {"hidden": 16}},
                "dataset": "digits", "epochs": list(reversed(entries)), **manifest_extra}
    (folder / "run.json").write_text(json.dumps(manifest))
    return folder


def test_ibviewer_run_folder_with_float16_safetensors(tmp_path):
    folder = _run_folder(tmp_path)
    run = open_run(folder, trust_factory=True)
    assert run.kind == "ibviewer" and run.epochs == (0, 4) and run.name == "myrun"
    assert run.metrics[4]["loss"] == pytest.approx(1.1)
    assert [layer.name for layer in run.layers] == ["1"]
    acts = run.activations()
    assert acts.values["1"].shape == (2, 1797, 16) and acts.values["1"].dtype == np.float32
    assert open_run(folder / "run.json", trust_factory=True).epochs == (0, 4)  # the manifest itself opens its folder


def test_name_layers_split_and_extra_come_from_the_manifest(tmp_path):
    folder = _run_folder(tmp_path, name="digits tanh", layers=["0", "1"], split={"test_indices": "split.npz"},
                         extra={"query_words": ["a"]})  # fmt: skip
    np.savez(folder / "split.npz", test_indices=np.array([5, 2, 9]))
    run = open_run(folder, trust_factory=True)
    assert run.name == "digits tanh" and [layer.name for layer in run.layers] == ["0", "1"]
    np.testing.assert_array_equal(run.test_indices, [5, 2, 9])
    assert run.test_indices.dtype == np.int64 and run.extra == {"query_words": ["a"]}


def test_the_command_line_overrides_the_manifest(tmp_path, rng):
    folder = _run_folder(tmp_path)
    np.savez(tmp_path / "small.npz", x=rng.normal(size=(30, 64)).astype(np.float32), y=rng.integers(0, 10, 30))
    run = open_run(folder, dataset=str(tmp_path / "small.npz"), model_kwargs={"hidden": 16}, trust_factory=True)
    assert run.dataset.n_samples == 30


def test_newer_run_format_version_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"format": "ibviewer-run", "version": 99}))
    with pytest.raises(IBViewerError, match="version 99.*Upgrade"):
        open_run(tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"layers": ["9"]}, r"names layers \['9'\] that the model does not have; capturable layers: 0, 1, 2"),
    ({"split": {"test_indices": "nope.npz"}}, "The test split .*nope.npz does not exist"),
    ({"model": {"kwargs": {"hidden": 16}}}, "names no model factory"),
    ({"dataset": None}, "names no dataset; pass --dataset"),
    ({"epochs": []}, "lists no epochs: the run has no saved weights yet"),
    ({"epochs": [{"epoch": 0}]}, r"epoch entry \{'epoch': 0\} is malformed"),
    ({"epochs": [{"epoch": 0, "weights": "weights/gone.safetensors"}]}, "names weights/gone.safetensors, which does not exist"),
])  # fmt: skip
def test_a_broken_manifest_says_what_is_wrong(tmp_path, change, message):
    folder = _run_folder(tmp_path)
    manifest = json.loads((folder / "run.json").read_text())
    manifest.update(change)
    (folder / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFormatError, match=message):
        open_run(folder, trust_factory=True)
