"""Broken and hostile inputs on the command line: one line on stderr, exit code 2, nothing lost.

Every input is generated here. Covers the errors, messages and output promises of
docs/security.md (the code-execution and file-access promises are tested in
tests/core/run/test_hostile_code.py and test_hostile_files.py).
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from ibviewer.cli import main
from tests.hostile import run_folder

pytestmark = pytest.mark.timeout(300)


def _cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def _manifest(folder, **changes):
    data = json.loads((folder / "run.json").read_text())
    data.update(changes)
    (folder / "run.json").write_text(json.dumps(data))
    return folder


# ---- run.json is checked against its schema --------------------------------------------------------


@pytest.mark.parametrize(("raw", "needle"), [
    ('"epoch": Infinity', "must be a whole number, got inf"),
    ('"epoch": 1e30', "must be a whole number, got 1e+30"),
    ('"epoch": 0.5', "must be a whole number, got 0.5"),
    ('"epoch": true', "must be a whole number, got True"),
    ('"epoch": 9007199254740993', "out of range"),
    ('"epoch": 0', "epoch 0 is listed more than once"),
])  # fmt: skip
def test_epochs_must_be_distinct_whole_numbers(tmp_path, capsys, raw, needle):
    folder = run_folder(tmp_path / "run")
    text = (folder / "run.json").read_text().replace('"epoch": 1', raw)
    (folder / "run.json").write_text(text)
    _one_line_error(*_cli(capsys, "info", folder)[::2], needle)


@pytest.mark.parametrize(("change", "needle"), [
    ({"epochs": [{"epoch": 0, "weights": "weights/e0.safetensors", "metrics": [1, 2]}]}, "metrics must be an object of numbers"),
    ({"epochs": [{"epoch": 0, "weights": "weights/e0.safetensors", "metrics": {"loss": "low"}}]}, "metrics must be"),
    ({"model": "ibviewer.models:mlp"}, '"model" must be an object'),
    ({"model": {"factory": "ibviewer.models:mlp", "kwargs": [1]}}, "the model kwargs must be a JSON object"),
    ({"model": {"factory": 7}}, 'the model factory must be a "module:callable" string'),
    ({"epochs": [{"epoch": 0, "weights": "weights"}]}, "is a folder"),
    ({"epochs": "all"}, '"epochs" must be a list'),
    ({"layers": "net.1"}, "\"layers\" must be a list of layer names, got 'net.1'"),
    ({"dataset": ["ib12"]}, '"dataset" must be a dataset name'),
    ({"split": "split.npz"}, '"split" must be an object'),
    ({"name": {"a": 1}}, '"name" must be text'),
])  # fmt: skip
def test_run_json_fields_of_the_wrong_type_are_one_line(tmp_path, capsys, change, needle):
    folder = _manifest(run_folder(tmp_path / "run"), **change)
    _one_line_error(*_cli(capsys, "info", folder)[::2], needle)


def test_deeply_nested_run_json_is_one_line(tmp_path, capsys):
    folder = run_folder(tmp_path / "run")
    text = (folder / "run.json").read_text().rstrip().rstrip("}") + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (folder / "run.json").write_text(text)
    _one_line_error(*_cli(capsys, "info", folder)[::2], "nested too deeply")


# ---- damaged and foreign files ------------------------------------------------------------------------


def test_damaged_archives_and_foreign_files_are_one_line(tmp_path, capsys):
    folder = run_folder(tmp_path / "run")
    np.savez(tmp_path / "good.npz", x=np.zeros((50, 12), np.float32), y=np.arange(50) % 2)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "pk.npz").write_bytes(b"PK\x03\x04 just four magic bytes")
    (tmp_path / "notes.pt").write_text("these are my notes, not a checkpoint\n" * 20)
    for dataset in ("cut.npz", "pk.npz"):
        _one_line_error(*_cli(capsys, "info", folder, "--dataset", tmp_path / dataset)[::2], dataset, "damaged")
    code, _, err = _cli(capsys, "info", tmp_path / "notes.pt", "--model", "ibviewer.models:mlp", "--dataset", "ib12")
    _one_line_error(code, err, "notes.pt is not a PyTorch checkpoint")
    assert "code" not in err  # a text file is not blamed on code hidden in it
    (tmp_path / "cut.npz").rename(tmp_path / "acts.npz")
    _one_line_error(*_cli(capsys, "info", tmp_path / "acts.npz")[::2], "acts.npz", "damaged")


def test_opening_damaged_files_leaks_no_open_file(tmp_path, recwarn):
    import gc

    from ibviewer.core.run import open_run
    from ibviewer.errors import IBViewerError

    (tmp_path / "pk.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    (tmp_path / "t.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    for path in ("pk.npz", "t.pt"):
        with pytest.raises(IBViewerError):
            open_run(tmp_path / path, model="ibviewer.models:mlp", dataset="ib12")
    gc.collect()
    assert not [w for w in recwarn if issubclass(w.category, ResourceWarning)]


def test_nan_in_the_data_is_blamed_on_the_data(tmp_path, capsys):
    x = np.zeros((50, 12), np.float32)
    x[3, 4] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(50) % 2)
    _one_line_error(*_cli(capsys, "info", run_folder(tmp_path / "run"), "--dataset", tmp_path / "nan.npz")[::2],
                    "nan.npz has 1 NaN or infinite input values")  # fmt: skip


def test_a_scalar_or_zero_width_layer_is_not_blamed_on_the_dataset(tmp_path, capsys):
    (tmp_path / "net.py").write_text(
        "from torch import nn\n"
        "class Sum(nn.Module):\n    def forward(self, x):\n        return x.sum()\n"
        "class Empty(nn.Module):\n    def forward(self, x):\n        return x[:, :0]\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc, self.act, self.total, self.empty, self.out = nn.Linear(12, 8), nn.Tanh(), Sum(), Empty(), nn.Linear(8, 2)\n"
        "    def forward(self, x):\n"
        "        h = self.act(self.fc(x))\n        self.total(h)\n        self.empty(h)\n        return self.out(h)\n"
    )
    import torch

    torch.save({"fc.weight": torch.zeros(8, 12), "fc.bias": torch.zeros(8), "out.weight": torch.zeros(2, 8),
                "out.bias": torch.zeros(2)}, tmp_path / "net.pt")  # fmt: skip
    code, out, err = _cli(capsys, "info", tmp_path / "net.pt", "--model", f"{tmp_path / 'net.py'}:Net", "--dataset", "ib12")
    assert code == 0, err
    assert "act " in out and "total" not in out and "empty" not in out
    code, _, err = _cli(capsys, "analyze", tmp_path / "net.pt", "--model", f"{tmp_path / 'net.py'}:Net", "--dataset",
                        "ib12", "--layers", "empty", "--out", tmp_path / "out")  # fmt: skip
    _one_line_error(code, err, "has no layer 'empty'")


def test_a_dollar_in_layer_and_class_names_is_drawn_as_text(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    arrays = {"labels": labels, "label_names": np.array(["$x^$", "b", "c"]),
              r"act/cost$ $\nope$/0": rng.normal(size=(60, 4)).astype(np.float32)}  # fmt: skip
    np.savez(tmp_path / "acts.npz", **arrays)
    code, _, err = _cli(capsys, "analyze", tmp_path / "acts.npz", "--out", tmp_path / "out", "--what", "infoplane,embeddings",
                        "--method", "pca")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "out/infoplane.png").stat().st_size > 1000 and (tmp_path / "out/layers_e0.png").stat().st_size > 1000


# ---- options are checked before anything slow, and point the right way --------------------------------


@pytest.mark.parametrize(("extra", "needle"), [
    (["--perplexity", "0"], "--perplexity 0.0 must be >= 1"),
    (["--perplexity", "-3"], "--perplexity -3.0 must be >= 1"),
    (["--k", "100000", "--select", "5"], "--k 100000 is more than the 1000 neighbours"),
    (["--jobs", "0"], "--jobs 0 must be at least 1"),
])  # fmt: skip
def test_bad_options_fail_before_extraction(tmp_path, capsys, monkeypatch, extra, needle):
    import ibviewer.core.pipeline as pipeline

    def never(*args, **kwargs):
        raise AssertionError("extraction started before the options were checked")

    monkeypatch.setattr(pipeline, "extract", never)
    _one_line_error(*_cli(capsys, "analyze", run_folder(tmp_path / "run"), "--out", tmp_path / "out", *extra)[::2], needle)


def test_an_unwritable_out_is_one_line_before_anything_is_computed(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        code, _, err = _cli(capsys, "analyze", run_folder(tmp_path / "run"), "--out", out, "--what", "infoplane")
        _one_line_error(code, err, str(tmp_path / "file"))


def test_running_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    import ibviewer.core.pipeline as pipeline

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pipeline, "open_request", exhausted)
    _one_line_error(*_cli(capsys, "info", run_folder(tmp_path / "run"))[::2], "ran out of memory", "--max-samples")


def test_a_refused_factory_says_which_flag_consents(tmp_path, capsys):
    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={"command": "true"})
    _one_line_error(*_cli(capsys, "info", folder)[::2], "import the module os and call system(command='true')",
                    "--trust-factory")  # fmt: skip


# ---- info shows names safely --------------------------------------------------------------------------


def test_info_escapes_control_characters_and_prints_strict_json(tmp_path, capsys):
    folder = run_folder(tmp_path / "run", name="evil\x1b[2J\x1b]0;title\x07run")
    text = (folder / "run.json").read_text().replace('"weights": "weights/e1.safetensors"', '"weights": "weights/e1.safetensors", "metrics": {"loss": NaN}')
    (folder / "run.json").write_text(text)
    code, out, err = _cli(capsys, "info", folder)
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b[2J" in out
    code, out, _ = _cli(capsys, "info", folder, "--json")
    assert code == 0

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    summary = json.loads(out, parse_constant=refuse)
    assert summary["metrics"]["1"]["loss"] is None and summary["name"].startswith("evil\x1b")


# ---- outputs: atomic, listed, never replacing what ibviewer did not write -----------------------------


def _analyze(capsys, folder, out, *extra):
    return _cli(capsys, "analyze", folder, "--out", out, "--max-samples", "300", "--method", "pca", *extra)


def test_out_keeps_a_manifest_removes_stale_outputs_and_never_replaces_foreign_files(tmp_path, capsys):
    folder = run_folder(tmp_path / "run")
    out = tmp_path / "out"
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane,embeddings", "--epochs", "all")
    assert code == 0, err
    manifest = json.loads((out / "ibviewer-outputs.json").read_text())
    assert set(manifest["files"]) == {"infoplane.csv", "infoplane.png", "infoplane.svg", "embeddings.csv",
                                      "embeddings.json", "layers_e0.png", "layers_e1.png"}  # fmt: skip
    assert manifest["settings"]["method"] == "pca" and manifest["run"]["max_samples"] == 300
    (out / "notes.txt").write_text("mine")
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane,embeddings", "--epochs", "last")
    assert code == 0, err
    assert not (out / "layers_e0.png").exists() and (out / "layers_e1.png").exists()  # stale output removed
    assert (out / "notes.txt").read_text() == "mine"  # not ibviewer's: untouched
    (out / "infoplane.csv").write_text("edited by hand")
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane")
    _one_line_error(code, err, "infoplane.csv", "--overwrite")
    assert (out / "infoplane.csv").read_text() == "edited by hand"
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane", "--overwrite")
    assert code == 0, err
    assert (out / "infoplane.csv").read_text().startswith("epoch,")


def test_a_forged_output_manifest_cannot_make_ibviewer_delete_files(tmp_path, capsys):
    folder = run_folder(tmp_path / "run")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "thesis.tex").write_text("precious")
    (out / "probes.csv").write_text("someone's probes")
    forged = {"format": "ibviewer-outputs", "version": 1, "files": {"../thesis.tex": "0" * 64, "probes.csv": "0" * 64}}
    (out / "ibviewer-outputs.json").write_text(json.dumps(forged))
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane")
    assert code == 0, err
    assert (tmp_path / "thesis.tex").read_text() == "precious" and (out / "probes.csv").read_text() == "someone's probes"


def test_a_crash_while_saving_a_figure_keeps_the_previous_one(tmp_path, monkeypatch, capsys):
    from matplotlib.figure import Figure

    folder = run_folder(tmp_path / "run")
    out = tmp_path / "out"
    assert _analyze(capsys, folder, out, "--what", "infoplane")[0] == 0
    before = (out / "infoplane.png").read_bytes()

    def killed(self, target, **kwargs):
        if not hasattr(target, "write"):
            target = open(target, "wb")  # noqa: SIM115 -- as savefig opens a path: truncates the old file
        target.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", killed)
    code, _, err = _analyze(capsys, folder, out, "--what", "infoplane", "--bins", "10")
    assert code == 130, err
    assert (out / "infoplane.png").read_bytes() == before
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_a_quoted_tilde_in_out_is_the_home_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, _, err = _analyze(capsys, run_folder(tmp_path / "run"), "~/results", "--what", "infoplane")
    assert code == 0, err
    assert (tmp_path / "home/results/infoplane.csv").exists() and not (tmp_path / "~").exists()


def test_a_pickled_sample_input_pt2_on_the_command_line_runs_nothing(tmp_path, capsys):
    from tests.hostile import export_program, pickle_payload, rewrite_pt2

    marker = tmp_path / "PAYLOAD_RAN"
    program = rewrite_pt2(export_program(tmp_path / "ok.pt2"), tmp_path / "evil.pt2",
                          replace={"data/sample_inputs/model.pt": pickle_payload(marker)})  # fmt: skip
    _one_line_error(*_cli(capsys, "info", program, "--dataset", "ib12")[::2], "evil.pt2", "--trust-pickle")
    assert not marker.exists()
    with zipfile.ZipFile(program) as archive:  # the payload really is in the file
        assert any(name.endswith("sample_inputs/model.pt") for name in archive.namelist())
