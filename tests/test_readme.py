"""The README's Python examples run as written (paths swapped for a run made in the test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_python_api_example_runs(ib12_checkpoints, capsys):
    folder, spec = ib12_checkpoints
    (block,) = [b for b in _python_blocks() if "ibviewer.open_run(" in b]
    code = block.replace('"checkpoints/"', repr(str(folder))).replace('"mynet.py:build"', repr(spec))
    code = code.replace('dataset="digits"', 'dataset="ib12"')
    with pytest.warns(UserWarning, match="sits at the ceiling"):  # layer '1' of this small net: expected
        exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(1, 5, 20)" in out and "binning" in out and "pruning" in out


def test_recorder_example_runs(tmp_path, monkeypatch):
    (block,) = [b for b in _python_blocks() if "ibviewer.Recorder(" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(block.replace("range(201)", "range(3)"), "README.md", "exec"), {})
    from ibviewer.core.run import open_run

    run = open_run(tmp_path / "runs" / "digits_tanh")
    assert run.epochs == (0, 1, 2) and run.dataset.name == "digits"


def test_bring_your_own_run_recipes_are_valid_python_naming_real_apis():
    doc = README.parent / "docs" / "bring-your-own-run.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    for block in blocks:
        compile(block, str(doc), "exec")
    text = doc.read_text(encoding="utf-8")
    for module, name in (("ibviewer.integrations.lightning", "IBViewerCallback"),
                         ("ibviewer.integrations.transformers", "IBViewerTrainerCallback")):  # fmt: skip
        assert f"from {module} import {name}" in text
        source = (README.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert f"class {name}(" in source
    assert "LiveRun" in text and "rescan()" in text
    from ibviewer.core.run import LiveRun

    assert callable(LiveRun.rescan) and callable(LiveRun.extend)
