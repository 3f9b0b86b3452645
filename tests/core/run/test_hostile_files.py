"""Opening a file never reads outside the run, never hangs, never fills memory.

Pipes, devices, symlinks and archives that declare more than they hold are generated
here; every case must end at once with one IBViewerError.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ibviewer.core.progress import RecordingProgress
from ibviewer.core.run import files, open_run
from ibviewer.errors import ActivationError, Cancelled, CheckpointLoadError, DatasetError, IBViewerError, RunFormatError
from tests.hostile import SIZES, npz_declaring, run_folder, small_module

pytestmark = pytest.mark.timeout(120)  # a hang fails here instead of blocking the suite


def _manifest(folder, **changes):
    path = folder / "run.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return folder


def _weights(name):
    return [{"epoch": 0, "weights": name}]


# ---- paths outside the run folder ------------------------------------------------------------------


@pytest.mark.parametrize(("change", "what"), [
    ({"epochs": _weights("ABS/weights/e0.safetensors")}, "weights file"),
    ({"epochs": _weights("../other/weights/e0.safetensors")}, "weights file"),
    ({"epochs": _weights("escape.safetensors")}, "weights file"),
    ({"dataset": "ABS/data.npz"}, "dataset"),
    ({"dataset": "../data.npz"}, "dataset"),
    ({"dataset": "data_link.npz"}, "dataset"),
    ({"dataset": "~/data.npz"}, "dataset"),
    ({"split": {"test_indices": "../split.npz"}}, "split file"),
    ({"split": {"test_indices": "split_link.npz"}}, "split file"),
])  # fmt: skip
def test_run_json_names_nothing_outside_its_folder(tmp_path, change, what):
    other = run_folder(tmp_path / "other")
    np.savez(tmp_path / "data.npz", x=np.zeros((10, 12), np.float32), y=np.zeros(10, np.int64))
    np.savez(tmp_path / "split.npz", test_indices=np.arange(3))
    folder = run_folder(tmp_path / "run")
    (folder / "escape.safetensors").symlink_to(other / "weights/e0.safetensors")
    (folder / "data_link.npz").symlink_to(tmp_path / "data.npz")
    (folder / "split_link.npz").symlink_to(tmp_path / "split.npz")
    change = json.loads(json.dumps(change).replace("ABS", str(other if what == "weights file" else tmp_path)))
    with pytest.raises(RunFormatError, match=f"names the {what} .* outside the run folder"):
        open_run(_manifest(folder, **change))


def test_files_inside_the_folder_and_builtin_datasets_stay_allowed(tmp_path):
    folder = run_folder(tmp_path / "run")
    (folder / "data").mkdir()
    np.savez(folder / "data/set.npz", x=np.zeros((10, 12), np.float32), y=np.arange(10) % 2)
    (folder / "link.safetensors").symlink_to(folder / "weights/e0.safetensors")  # a symlink that stays inside
    run = open_run(_manifest(folder, dataset="data/set.npz", epochs=_weights("link.safetensors")))
    assert run.dataset.n_samples == 10 and run.epochs == (0,)
    assert open_run(_manifest(folder, dataset="ib12", epochs=_weights("weights/e1.safetensors"))).dataset.name == "ib12"


def test_an_mnist_labels_file_beside_the_images_may_not_lead_outside(tmp_path):
    folder = run_folder(tmp_path / "run")
    images = np.zeros((4, 2, 6), np.uint8).tobytes()
    (folder / "t-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03" + struct.pack(">III", 4, 2, 6) + images)
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 4) + bytes(4))
    (folder / "t-labels-idx1-ubyte").symlink_to(tmp_path / "t-labels-idx1-ubyte")
    with pytest.raises(DatasetError, match="outside the run folder"):
        open_run(_manifest(folder, dataset="t-images-idx3-ubyte"))


# ---- pipes and devices: refused, never read --------------------------------------------------------


def test_a_fifo_or_a_device_named_as_weights_is_refused_at_once(tmp_path, model_file):
    folder = run_folder(tmp_path / "run")
    os.mkfifo(folder / "weights/pipe.safetensors")
    (folder / "weights/zero.safetensors").symlink_to("/dev/zero")
    with pytest.raises(RunFormatError, match="not a regular file"):
        open_run(_manifest(folder, epochs=_weights("weights/pipe.safetensors")))
    with pytest.raises(RunFormatError, match="outside the run folder"):  # /dev/zero is outside, too
        open_run(_manifest(folder, epochs=_weights("weights/zero.safetensors")))
    (tmp_path / "zero.pt").symlink_to("/dev/zero")  # the user's own path: refused as a device
    with pytest.raises(IBViewerError, match="not a regular file"):
        open_run(tmp_path / "zero.pt", model=f"{model_file}:make", dataset="ib12")


def test_a_fifo_as_dataset_checkpoint_or_manifest_is_refused_at_once(tmp_path, model_file):
    os.mkfifo(tmp_path / "data.npz")
    os.mkfifo(tmp_path / "net.pt")
    os.mkfifo(tmp_path / "t10k-images-idx3-ubyte")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 1) + bytes(1))
    for dataset in ("data.npz", "t10k-images-idx3-ubyte"):
        with pytest.raises(DatasetError, match="not a regular file"):
            open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / dataset))
    with pytest.raises(IBViewerError, match="not a regular file"):
        open_run(tmp_path / "net.pt", model=f"{model_file}:make", dataset="ib12")
    folder = tmp_path / "piped"
    folder.mkdir()
    os.mkfifo(folder / "run.json")
    with pytest.raises(RunFormatError, match="not a regular file"):
        open_run(folder)
    with pytest.raises(IBViewerError, match="not a regular file"):
        open_run(folder / "run.json")


def test_a_fifo_among_checkpoints_is_not_opened(tmp_path, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    os.mkfifo(folder / "e999.pt")
    assert open_run(folder, model=spec, dataset="ib12").epochs == (1, 5, 20)


def test_hashing_reads_no_more_than_the_file_held_and_stops_when_cancelled(tmp_path):
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"\0" * (9 << 20))
    with pytest.raises(Cancelled):
        files.digest(big, RecordingProgress(cancel_after=0))
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(CheckpointLoadError, match="not a regular file"):
        files.digest(tmp_path / "zero", RecordingProgress())


def test_opening_many_checkpoints_and_hashing_them_can_be_cancelled(tmp_path, ib12_checkpoints):
    folder, spec = ib12_checkpoints
    with pytest.raises(Cancelled):
        open_run(folder, model=spec, dataset="ib12", progress=RecordingProgress(cancel_after=1))
    run = open_run(folder, model=spec, dataset="ib12")
    progress = RecordingProgress(cancel_after=0)
    with pytest.raises(Cancelled):
        run.activations(progress=progress)
    assert progress.updates == []  # stopped while hashing the files for the cache key, before extracting


# ---- sizes: what a file declares is checked before it is read ----------------------------------------


def test_an_npz_declaring_a_huge_array_is_refused_before_reading(tmp_path):
    npz_declaring(tmp_path / "huge.npz", {"x": ((10**11, 12), "<f8"), "y": ((10**11,), "<i8")})
    with pytest.raises(DatasetError, match=r"huge\.npz declares data that needs .* GB .* limit; it was not read"):
        open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / "huge.npz"))


def test_a_small_compressed_npz_that_expands_past_the_limit_is_refused(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros((20_000, 64), np.float32), y=np.zeros(20_000, np.int64))
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    monkeypatch.setenv("IBVIEWER_MEMORY_LIMIT_GB", "0.005")  # 5 MB: the 5.3 MB of arrays need ~16 MB to load
    with pytest.raises(DatasetError, match="IBVIEWER_MEMORY_LIMIT_GB"):
        open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / "bomb.npz"))
    monkeypatch.setenv("IBVIEWER_MEMORY_LIMIT_GB", "1")
    with pytest.raises(IBViewerError):  # within the limit it is read (and then refused as a mismatch: 64 != 12 inputs)
        open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / "bomb.npz"))


def test_a_gzipped_idx_file_declaring_too_much_is_refused_before_reading(tmp_path):
    with gzip.open(tmp_path / "t-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(b"\0\0\x08\x03" + struct.pack(">III", 10**6, 10**4, 10**4) + bytes(1000))
    with gzip.open(tmp_path / "t-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(b"\0\0\x08\x01" + struct.pack(">I", 10**6) + bytes(10**6))
    with pytest.raises(DatasetError, match="declares data that needs"):
        open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / "t-images-idx3-ubyte.gz"))


@pytest.mark.parametrize("header", [b"\x01\0\x08\x01", b"\0\0\x0d\x01", b"\0\0\x08\x00", b"\0\0\x08\xff", b"\0\0\x08\x03\0\0"])
def test_a_bogus_idx_header_is_one_error(tmp_path, header):
    (tmp_path / "t-images-idx3-ubyte").write_bytes(header)
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 1) + bytes(1))
    with pytest.raises(DatasetError, match="idx"):
        open_run(run_folder(tmp_path / "run"), dataset=str(tmp_path / "t-images-idx3-ubyte"))


def test_an_activation_archive_declaring_too_much_is_refused(tmp_path):
    npz_declaring(tmp_path / "acts.npz", {"labels": ((10**9,), "<i8"), "act/a": ((10**9, 512), "<f4")})
    with pytest.raises(ActivationError, match="declares data that needs"):
        open_run(tmp_path / "acts.npz")


def test_safetensors_whose_header_claims_more_than_the_file_holds_is_refused(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**6, 10**4], "data_offsets": [0, 4 * 10**10]}}).encode()
    (tmp_path / "w.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(64))
    with pytest.raises(CheckpointLoadError, match="does not fit the file"):
        open_run(tmp_path / "w.safetensors", model="ibviewer.models:mlp", dataset="ib12")


def test_a_checkpoint_zip_declaring_more_than_the_limit_is_refused(tmp_path, monkeypatch):
    torch.save(small_module().state_dict(), tmp_path / "net.pt")
    with zipfile.ZipFile(tmp_path / "net.pt", "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("net/extra", bytes(20 << 20))
    monkeypatch.setenv("IBVIEWER_MEMORY_LIMIT_GB", "0.01")
    with pytest.raises(CheckpointLoadError, match="declares data that needs"):
        open_run(tmp_path / "net.pt", model="ibviewer.models:mlp", model_kwargs={"sizes": SIZES}, dataset="ib12")


# ---- the activation cache ----------------------------------------------------------------------------


def test_editing_the_model_code_gives_new_activations_not_stale_ones(tmp_path):
    folder = run_folder(tmp_path / "run", factory="model.py:build", kwargs={})
    source = "from ibviewer.models import mlp\n\ndef build():\n    return mlp({sizes})\n"
    (folder / "model.py").write_text(source.format(sizes=SIZES))
    first = open_run(folder, trust_factory=True).activations(cache_dir=tmp_path / "cache")
    (folder / "model.py").write_text(
        source.format(sizes=SIZES).replace("    return mlp", "    model = mlp") + "    model.net[1] = __import__('torch').nn.ReLU()\n    return model\n"
    )
    second = open_run(folder, trust_factory=True).activations(cache_dir=tmp_path / "cache")
    assert first.key != second.key
    assert (second.values["net.1"] >= 0).all() and (first.values["net.1"] < 0).any()  # tanh before, relu now


def test_a_cache_entry_of_the_wrong_shape_is_dropped_and_recomputed(tmp_path, caplog):
    from ibviewer.core.cache import DiskCache

    run = open_run(run_folder(tmp_path / "run"))
    good = run.activations(cache_dir=tmp_path / "cache")
    DiskCache("activations", tmp_path / "cache").put(good.key, {"layer_0": np.zeros((1, 2, 3), np.float32)})
    again = open_run(run_folder(tmp_path / "run")).activations(cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.values["net.1"], good.values["net.1"])
    assert "do not have the shapes" in caplog.text


def test_weights_in_float16_still_digest_and_load(tmp_path):
    folder = run_folder(tmp_path / "run")
    save_file({k: v.half() for k, v in small_module().state_dict().items()}, folder / "weights/e0.safetensors")
    assert open_run(folder).activations().values["net.1"].shape == (2, 4096, 8)
