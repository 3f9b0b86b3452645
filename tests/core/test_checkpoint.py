"""Loading checkpoints without running their code, fitting weights to models, factories and epoch names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ibviewer.core import checkpoint as ck
from ibviewer.errors import CheckpointLoadError, ModelFactoryError, ModelMismatchError, UnsafeCheckpointError


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


class _Payload:
    """Unpickling this runs ``exec``: it writes a marker file. Safe loading must never get that far."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('the payload ran')",)


def test_a_state_dict_loads_with_its_epoch_and_metrics(tmp_path):
    state = _net().state_dict()
    torch.save({"epoch": 7, "model_state_dict": state, "loss": 0.25, "val_acc": 0.9, "flag": True, "lr": 0.1},
               tmp_path / "e.pt")  # fmt: skip
    loaded = ck.load_checkpoint(tmp_path / "e.pt")
    assert loaded.epoch == 7 and loaded.module is None
    assert loaded.metrics == {"loss": 0.25, "val_acc": 0.9}  # metric-like scalars only, no bools
    assert set(loaded.state_dict) == set(state)
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in state.items())


def test_a_pickle_with_a_payload_is_refused_and_the_payload_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    torch.save({"state_dict": _net().state_dict(), "extra": _Payload(marker)}, tmp_path / "evil.pt")
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt.*refused.*--trust-pickle") as info:
        ck.load_checkpoint(tmp_path / "evil.pt")
    assert "exec" in str(info.value)  # the refused object is named
    assert not marker.exists()
    with pytest.warns(UserWarning, match="full unpickling"):
        ck.load_checkpoint(tmp_path / "evil.pt", trust_pickle=True)
    assert marker.read_text() == "the payload ran"  # the control: the payload is real, only consent lets it run


def test_a_whole_pickled_module_needs_consent_and_warns(tmp_path):
    model = _net()
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(UnsafeCheckpointError):
        ck.load_checkpoint(tmp_path / "whole.pt")
    with pytest.warns(UserWarning, match="full unpickling"):
        loaded = ck.load_checkpoint(tmp_path / "whole.pt", trust_pickle=True)
    assert isinstance(loaded.module, nn.Sequential)
    assert torch.equal(loaded.state_dict["0.weight"], model[0].weight)


def test_damaged_and_foreign_files_say_what_they_are(tmp_path):
    torch.save(_net().state_dict(), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointLoadError, match=r"cut\.pt.*truncated, damaged"):
        ck.load_checkpoint(tmp_path / "cut.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointLoadError, match="holds a list, not a state_dict"):
        ck.load_checkpoint(tmp_path / "list.pt")
    torch.save({"optimizer": {"lr": 0.1}, "step": 3}, tmp_path / "opt.pt")
    with pytest.raises(CheckpointLoadError, match=r"keys \['optimizer', 'step'\] but no state_dict"):
        ck.load_checkpoint(tmp_path / "opt.pt")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CheckpointLoadError, match="not a valid safetensors file"):
        ck.load_checkpoint(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointLoadError, match="does not exist"):
        ck.load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointLoadError, match="is a folder"):
        ck.load_checkpoint(tmp_path)


@pytest.mark.parametrize("prefix", ["", "model.", "module.", "net.", "_orig_mod."])
def test_wrapper_prefixes_are_stripped_and_dtypes_cast(tmp_path, prefix):
    source = _net()
    save_file({prefix + k: v.half() for k, v in source.state_dict().items()}, tmp_path / "w.safetensors")
    loaded = ck.load_checkpoint(tmp_path / "w.safetensors")
    target = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    ck.apply_state_dict(target, loaded.state_dict, loaded.path)
    assert target[0].weight.dtype == torch.float32
    torch.testing.assert_close(target[2].bias, source[2].bias.half().float())


def test_weights_that_do_not_fit_list_what_differs():
    state = _net().state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["2.bias"]
    state["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(ModelMismatchError) as info:
        ck.apply_state_dict(_net(), state, "e.pt")
    message = str(info.value)
    assert "missing keys: 2.bias" in message and "unexpected keys: extra.weight" in message
    assert "0.weight: checkpoint (5, 3) vs model (4, 3)" in message and "--model" in message


@pytest.mark.parametrize("name, epoch", [
    ("epoch_012.pt", 12), ("run-epoch=3-step=120.ckpt", 120), ("model_v2_epoch7.pth", 7), ("final.pt", None),
])  # fmt: skip
def test_epoch_from_name_takes_the_last_number(name, epoch):
    assert ck.epoch_from_name(Path(name)) == epoch


def test_file_digest_follows_the_contents(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1_000_000)  # more than one read block
    assert ck.file_digest(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
    path.write_bytes(b"abd" * 1_000_000)
    assert ck.file_digest(path) != hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_factories_from_files_relative_to_a_base_folder(tmp_path, model_file):
    run_dir = model_file.parent
    model = ck.build_model("net.py:make", {"hidden": [5]}, base_dir=run_dir)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [5, 2]
    with pytest.raises(ModelFactoryError, match="not a torch.nn.Module"):
        ck.build_model(f"{model_file}:not_a_module")
    with pytest.raises(ModelFactoryError, match="has no attribute 'nope'.*It defines: .*make"):
        ck.build_model(f"{model_file}:nope")
    with pytest.raises(ModelFactoryError, match="Calling the model factory.*failed"):
        ck.build_model(f"{model_file}:make", {"unknown": 1})
    with pytest.raises(ModelFactoryError, match="MODULE:CALLABLE"):
        ck.build_model("no_colon")
    with pytest.raises(ModelFactoryError, match="does not exist"):
        ck.build_model("missing.py:make", base_dir=tmp_path / "elsewhere")
