"""Opening a file never runs code from it: .pt2 programs, run folders and session requests.

Every payload would create ``marker`` if it ran; each test asserts that it did not, and
where cheap that it does run once the user consents (so the payload is known to be live).
"""

from __future__ import annotations

import json

import pytest

from ibviewer.core.config import RunRequest
from ibviewer.core.pipeline import open_request
from ibviewer.core.run import open_run
from ibviewer.errors import CheckpointLoadError, FactoryConsentRequired, RunFormatError, UnsafeCheckpointError
from tests.hostile import evil_module, export_program, pickle_payload, rewrite_pt2, run_folder


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PAYLOAD_RAN"


# ---- .pt2 programs --------------------------------------------------------------------------


def test_a_pt2_whose_sample_inputs_are_a_pickle_payload_is_refused_unread(tmp_path, marker):
    program = rewrite_pt2(export_program(tmp_path / "ok.pt2"), tmp_path / "evil.pt2",
                          replace={"data/sample_inputs/model.pt": pickle_payload(marker)})  # fmt: skip
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt2.*sample inputs need unpickling.*--trust-pickle") as info:
        open_run(program, dataset="ib12")
    assert not marker.exists()
    assert "--trust-pickle" not in info.value.reason  # the window words its own way of consenting
    with pytest.raises(CheckpointLoadError), pytest.warns(UserWarning, match="trusting its contents"):
        open_run(program, dataset="ib12", trust_pickle=True)
    assert marker.exists()  # the payload is live: trusting the file runs it


def _guard_payload(marker):
    def edit(program, configs):
        program["guards_code"] = [f"__import__('os').mkdir({str(marker)!r}) is None"]

    return edit


def test_guards_code_in_a_pt2_never_runs(tmp_path, marker):
    program = rewrite_pt2(export_program(tmp_path / "ok.pt2"), tmp_path / "evil.pt2", edit=_guard_payload(marker))
    with pytest.raises(UnsafeCheckpointError, match="which torch would run as code"):
        open_run(program, dataset="ib12")
    assert not marker.exists()
    with pytest.warns(UserWarning, match="trusting its contents"):
        try:
            open_run(program, dataset="ib12", trust_pickle=True)
        except Exception:  # noqa: BLE001 -- what the guard returns does not matter, only that it ran
            pass
    assert marker.exists()


def _weights_pickled(program, configs):
    entry = next(iter(configs["data/weights/model_weights_config.json"]["config"].values()))
    entry["use_pickle"] = True


def _opaque_constant(program, configs):
    # torch unpickles opaque objects whatever use_pickle says
    configs["data/constants/model_constants_config.json"]["config"]["c"] = {"path_name": "opaque_obj_0", "use_pickle": False}


def _target(name):
    def edit(program, configs):
        program["graph_module"]["graph"]["nodes"][0]["target"] = name

    return edit


def _expression(text):
    def edit(program, configs):
        program["graph_module"]["graph"]["sym_int_values"] = {"s0": {"as_expr": {"expr_str": text, "hint": None}}}

    return edit


def _input_names(names):
    def edit(program, configs):
        program["graph_module"]["module_call_graph"][0]["signature"]["forward_arg_names"] = names

    return edit


def _string_input(program, configs):
    program["graph_module"]["graph"]["inputs"].append({"as_string": "x' or __import__('os') or '"})


@pytest.mark.parametrize(("edit", "replace", "reason"), [
    (_weights_pickled, {}, "is stored as a pickle"),
    (_opaque_constant, {}, "opaque object"),
    (_target("torch.os.system"), {}, "calls the Python function 'torch.os.system'"),
    (_target("builtins.eval"), {}, "calls the Python function"),
    (_target("torch.ops.load_library.__call__"), {}, "calls the Python function"),
    (_target("torch.ops.import_module.__func__"), {}, "calls the Python function"),
    (_target("torch.ops.aten.linear.__class__"), {}, "calls the Python function"),
    (_target("torch.ops.nowhere.op"), {}, "calls the Python function"),
    (_expression("Max(\"__import__('os').system('x')\")"), {}, "which torch would run as code"),
    (_expression("Symbol(\"__import__('os')\")"), {}, "which torch would run as code"),
    (_expression("S.__class__"), {}, "which torch would run as code"),
    (_input_names(["x): pass\nimport os\ndef f(x"]), {}, "not Python identifiers"),
    (_string_input, {}, "takes text inputs"),
    (None, {"data/aotinductor/model/model.so": b"\x7fELF"}, "native code or pickle"),
    (None, {"data/weights/model.pt": b"legacy"}, "legacy pickled layout"),
    (None, {"/version": b"1.0"}, "outside the archive's folder"),
    (None, {"archive_format": b"zip"}, "not a current torch.export archive"),
])  # fmt: skip
def test_every_way_a_pt2_could_run_code_is_refused(tmp_path, marker, edit, replace, reason):
    program = rewrite_pt2(export_program(tmp_path / "ok.pt2"), tmp_path / "evil.pt2", replace=replace, edit=edit)
    with pytest.raises(UnsafeCheckpointError, match=reason):
        open_run(program, dataset="ib12")


def test_genuine_programs_with_dynamic_shapes_open_without_consent(tmp_path):
    run = open_run(export_program(tmp_path / "dyn.pt2", dynamic=True), dataset="ib12")
    assert run.kind == "export" and run.activations().values[run.layers[0].name].shape[1] == 4096


# ---- model factories --------------------------------------------------------------------------


def test_a_run_folder_naming_os_system_runs_nothing(tmp_path, marker):
    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={"command": f"touch {marker}"})
    with pytest.raises(FactoryConsentRequired, match=r"names the model factory os:system.*--trust-factory") as info:
        open_run(folder)
    assert not marker.exists()
    call = info.value.factory
    assert (call.module, call.callable, dict(call.kwargs)) == ("os", "system", {"command": f"touch {marker}"})
    assert call.describe() == f"import the module os and call system(command='touch {marker}')"


def test_a_factory_file_inside_the_folder_runs_only_with_consent(tmp_path, marker):
    folder = run_folder(tmp_path / "run", factory="model.py:build", kwargs={})
    evil_module(folder / "model.py", marker)
    with pytest.raises(FactoryConsentRequired) as info:
        open_run(folder)
    assert not marker.exists()
    assert info.value.factory.file == (folder / "model.py").resolve()
    assert info.value.factory.describe() == f"import the file {(folder / 'model.py').resolve()} and call build()"
    assert open_run(folder, trust_factory=True).epochs == (0, 1)
    assert marker.exists()  # consent given: the file was imported


@pytest.mark.parametrize("spec", ["../evil.py:build", "ABSOLUTE:build", "link.py:build", "sub/../../evil.py:build"])
def test_a_factory_file_outside_the_run_folder_is_refused_even_with_consent(tmp_path, marker, spec):
    evil = evil_module(tmp_path / "evil.py", marker)
    folder = run_folder(tmp_path / "run", factory=spec.replace("ABSOLUTE", str(evil)), kwargs={})
    (folder / "link.py").symlink_to(evil)
    with pytest.raises(RunFormatError, match="outside the run folder"):
        open_run(folder, trust_factory=True)
    assert not marker.exists()


@pytest.mark.parametrize("spec", ["ibviewer.models:torch", "ibviewer.models:ModelFactoryError", "ibviewer.models.x:mlp"])
def test_only_ibviewer_models_own_factories_run_without_consent(tmp_path, spec):
    with pytest.raises(FactoryConsentRequired):
        open_run(run_folder(tmp_path / "run", factory=spec))
    assert open_run(run_folder(tmp_path / "ok")).epochs == (0, 1)  # ibviewer.models:mlp


def test_a_session_request_names_a_factory_but_never_consents(tmp_path, marker, ib12_checkpoints):
    """A session file carries model and model_kwargs: reopening it must ask before importing anything."""
    folder, _ = ib12_checkpoints
    evil = evil_module(tmp_path / "evil.py", marker)
    request = RunRequest.from_dict({"path": str(folder), "model": f"{evil}:build", "dataset": "ib12"})
    with pytest.raises(FactoryConsentRequired, match="evil.py"):
        open_request(request)
    assert not marker.exists()
    with pytest.raises(FactoryConsentRequired):  # the run folder's own factory, too
        open_request(RunRequest.from_dict({"path": str(run_folder(tmp_path / "run", factory="os:system"))}))


def test_the_user_naming_a_factory_is_consent(tmp_path, marker, capsys):
    from ibviewer.cli import main

    folder = run_folder(tmp_path / "run", factory="os:system", kwargs={})
    evil = evil_module(tmp_path / "evil.py", marker)
    assert main(["info", str(folder), "--model", f"{evil}:build"]) == 0  # --model overrides the folder's factory
    assert marker.exists()
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["model"]["factory"] == "os:system"
