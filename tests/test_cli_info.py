"""`ibviewer info` and the one-line errors every bad input gets (exit code 2, no traceback)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from ibviewer.cli import main
from ibviewer.samples import sample_path


def _info(capsys, *args):
    code = main(["info", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code, err, *needles):
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_info_json_has_the_stable_keys(capsys, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code, out, _ = _info(capsys, folder, "--model", spec, "--dataset", "ib12", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["epochs"] == [1, 5, 20]
    assert info["n_parameters"] == 12 * 8 + 8 + 8 * 6 + 6 + 6 * 2 + 2
    names = [layer["name"] for layer in info["layers"]]
    assert names == ["0", "1", "2", "3", "4"]
    assert {"name", "module", "shape", "dim"} <= set(info["layers"][1])
    assert info["layers"][1] | {"default": True} == info["layers"][1]
    assert info["dataset"]["n_samples"] == 4096 and info["dataset"]["n_classes"] == 2


def test_info_text_lists_layers(capsys, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code, out, _ = _info(capsys, folder, "--model", spec, "--dataset", "ib12")
    assert code == 0 and "epochs     3: 1, 5, 20" in out and "Tanh" in out


def test_missing_path(capsys, tmp_path):
    code, _, err = _info(capsys, tmp_path / "nope.pt", "--dataset", "ib12")
    _assert_one_line_error(code, err, "nope.pt", "does not exist")


def test_empty_folder(capsys, tmp_path, model_file):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _info(capsys, empty, "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "holds no checkpoints")


def test_random_bytes_named_pt(capsys, tmp_path, model_file):
    path = tmp_path / "noise.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = _info(capsys, path, "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "noise.pt", "torch.save")


def test_truncated_checkpoint(capsys, tmp_path, model_file, ib12_checkpoints):
    folder, _ = ib12_checkpoints
    data = (folder / "e005.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    code, _, err = _info(capsys, path, "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "cut.pt", "truncated")


def test_html_renamed_safetensors(capsys, tmp_path, model_file):
    path = tmp_path / "weights.safetensors"
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    code, _, err = _info(capsys, path, "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "weights.safetensors", "not a valid safetensors")


class _Payload:
    """Unpickling this would create a marker file: it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_code_running_pickle_is_refused_and_never_runs(capsys, tmp_path, model_file):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"state_dict": _Payload(str(marker))}, handle)
    code, _, err = _info(capsys, path, "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "evil.pt", "--trust-pickle")
    assert not marker.exists()


def test_trust_pickle_loads_a_whole_module_with_a_warning(capsys, tmp_path):
    from torch import nn

    torch.save(nn.Sequential(nn.Linear(12, 4), nn.Tanh(), nn.Linear(4, 2)), tmp_path / "whole.pt")
    code, _, err = _info(capsys, tmp_path / "whole.pt", "--dataset", "ib12")
    _assert_one_line_error(code, err, "whole.pt", "--trust-pickle")
    code, out, err = _info(capsys, tmp_path / "whole.pt", "--dataset", "ib12", "--trust-pickle", "--json")
    assert code == 0 and "warning:" in err and "full unpickling" in err
    assert [layer["name"] for layer in json.loads(out)["layers"]] == ["0", "1", "2"]


def test_state_dict_that_does_not_fit_lists_keys_and_shapes(capsys, tmp_path, model_file):
    from torch import nn

    wrong = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 2), nn.Tanh(), nn.Linear(2, 2))
    torch.save(wrong.state_dict(), tmp_path / "wrong.pt")
    code, _, err = _info(capsys, tmp_path / "wrong.pt", "--model", f"{model_file}:make", "--dataset", "ib12")
    _assert_one_line_error(code, err, "wrong.pt", "unexpected keys: 6.weight", "2.weight: checkpoint (5, 8) vs model (6, 8)")


@pytest.mark.parametrize(
    ("factory", "needle"),
    [("no_such_module_xyz:make", "Could not import module 'no_such_module_xyz'"),
     ("FILE:missing", "has no attribute 'missing'"),
     ("FILE:not_a_module", "returned a int, not a torch.nn.Module"),
     ("nocolon", "MODULE:CALLABLE")],
)
def test_bad_model_factory(capsys, ib12_checkpoints, model_file, factory, needle):
    folder, _ = ib12_checkpoints
    code, _, err = _info(capsys, folder, "--model", factory.replace("FILE", str(model_file)), "--dataset", "ib12")
    _assert_one_line_error(code, err, needle)


def test_dataset_the_model_cannot_take_names_both_shapes(capsys, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code, _, err = _info(capsys, folder, "--model", spec, "--dataset", "digits")
    _assert_one_line_error(code, err, "shape (64,)", "in_features=12")


def test_nan_activations_name_layer_and_epoch(capsys, tmp_path, model_file):
    import importlib.util

    spec = importlib.util.spec_from_file_location("m", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for epoch in (1, 2):
        model = module.make()
        if epoch == 2:
            with torch.no_grad():
                model[2].weight[0, 0] = float("nan")
        torch.save({"epoch": epoch, "state_dict": model.state_dict()}, tmp_path / f"c{epoch}.pt")
    from ibviewer.core.run import open_run
    from ibviewer.errors import ActivationError

    run = open_run(tmp_path, model=f"{model_file}:make", dataset="ib12")
    with pytest.raises(ActivationError, match=r"Layer '3' at epoch 2 has \d+ NaN"):
        run.activations()


def test_unknown_dataset(capsys, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code, _, err = _info(capsys, folder, "--model", spec, "--dataset", "cifar")
    _assert_one_line_error(code, err, "'cifar'", "built-in")


def test_core_and_cli_load_no_qt(ib12_checkpoints):
    folder, spec = ib12_checkpoints
    code = (
        "import sys, ibviewer, ibviewer.core.run, ibviewer.core.activations, ibviewer.core.datasets\n"
        "import ibviewer.core.cache, ibviewer.core.checkpoint\n"
        "from ibviewer.cli import main\n"
        f"assert main(['info', {str(folder)!r}, '--model', {spec!r}, '--dataset', 'ib12', '--json']) == 0\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken')))\n"
        "assert not qt, qt\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, contextlib, io\n"
        "from ibviewer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "heavy = sorted(m for m in ('torch', 'umap', 'openTSNE', 'sklearn', 'PySide6', 'matplotlib') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_export_program_with_the_wrong_dataset(capsys, tmp_path):
    from torch import nn

    program = torch.export.export(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)), (torch.zeros(8, 4),))
    torch.export.save(program, tmp_path / "small.pt2")
    code, _, err = _info(capsys, tmp_path / "small.pt2", "--dataset", "ib12")
    _assert_one_line_error(code, err, "shape (12,)", "takes inputs of shape (4,)")


LONG_NAMES = '''
from torch import nn


class AVeryLongBlockTypeNameForAlignment(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.Tanh()

    def forward(self, x):
        return x + self.act(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(AVeryLongBlockTypeNameForAlignment() for _ in range(2))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)
'''


def test_info_columns_stay_aligned_for_long_type_names(capsys, tmp_path):
    (tmp_path / "longnet.py").write_text(LONG_NAMES)
    import importlib.util

    spec = importlib.util.spec_from_file_location("longnet_for_test", tmp_path / "longnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path / "ckpts"
    folder.mkdir()
    torch.save(module.Net().state_dict(), folder / "epoch_3.pt")
    features = tmp_path / "features.npz"
    np.savez(features, x=np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32), y=np.arange(20) % 2)
    code, out, _ = _info(capsys, folder, "--model", f"{tmp_path / 'longnet.py'}:Net", "--dataset", features)
    assert code == 0
    rows = [line for line in out.splitlines() if " shape (" in line]
    assert len(rows) == 7 and len({line.index(" shape (") for line in rows}) == 1  # 2 x (fc, act, block), head
    assert len({line.index(" dim ") for line in rows}) == 1
    defaults = [line.split()[1] for line in rows if line.startswith("  * ")]
    assert defaults == ["blocks.0", "blocks.1"]  # the repeated blocks, skip sums included


def test_info_survey_says_what_a_folder_holds_without_loading(capsys, tmp_path, ib12_checkpoints):
    folder, _ = ib12_checkpoints
    code, out, _ = _info(capsys, "--survey", folder)
    assert code == 0
    assert out.splitlines() == [
        "checkpoint folder: 3 checkpoint files: e001.pt, e005.pt, e020.pt",
        "layers: listed once the network is built (on opening)",
        "still needed: a model (--model) and a dataset (--dataset)",
    ]
    # an ibviewer run names its layers: they are shown before anything is loaded
    code, out, _ = _info(capsys, "--survey", sample_path("ib12_tanh"))
    assert code == 0 and "layers: net.1, net.3, net.5, net.7, net.9" in out.splitlines()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = _info(capsys, "--survey", empty, "--json")
    assert code == 2 and json.loads(out)["kind"] == "" and "holds no checkpoints" in json.loads(out)["found"]
