"""torch.export programs (.pt2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibviewer.core.run import open_run
from ibviewer.errors import CheckpointLoadError, IBViewerError


def test_torch_export_program_captures_the_same_values_as_hooks(tmp_path, model_file, net):
    torch.manual_seed(0)
    model = net.make().eval()
    program = torch.export.export(model, (torch.zeros(32, 12),))  # a fixed batch of 32
    torch.export.save(program, tmp_path / "net.pt2")
    torch.save(model.state_dict(), tmp_path / "net.pt")
    exported = open_run(tmp_path / "net.pt2", dataset="ib12")
    plain = open_run(tmp_path / "net.pt", model=f"{model_file}:make", dataset="ib12")
    assert exported.kind == "export" and exported.n_parameters == plain.n_parameters
    assert [layer.name for layer in exported.layers] == [layer.name for layer in plain.layers] == ["1", "3"]
    a, b = exported.activations(), plain.activations()
    for name in ("1", "3"):
        np.testing.assert_allclose(a.values[name], b.values[name], atol=1e-6)
    with pytest.raises(IBViewerError, match="no nn.Module to load"):
        exported.load_model(0)


def test_a_file_that_is_not_a_program_is_refused(tmp_path):
    (tmp_path / "fake.pt2").write_bytes(b"not a zip archive")
    with pytest.raises(CheckpointLoadError, match=r"fake\.pt2 as a torch.export program.*torch.export.save"):
        open_run(tmp_path / "fake.pt2", dataset="ib12")
