"""Finding the bundled resources and samples: in the source checkout, and where a wheel installed them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ibviewer import data_files

REPO = Path(__file__).resolve().parents[1]


def test_a_source_checkout_uses_its_own_folders():
    assert data_files.source_checkout() == REPO
    assert data_files.data_dir("resources") == REPO / "resources"
    assert data_files.data_dir("sample_models") == REPO / "sample_models"
    assert data_files.data_dir_candidates("resources")[0] == REPO / "resources"


def _fake_install(prefix: Path, record_lines: list[str]) -> Path:
    """A prefix as pip lays out a wheel's data files: site-packages with a dist-info, and share/ibviewer/."""
    site = prefix / "lib" / "site-packages"
    dist_info = site / "ibviewer-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ibviewer\nVersion: 0.1.0\n")
    (dist_info / "RECORD").write_text("".join(f"{line},,\n" for line in record_lines))
    for line in record_lines:
        if line.startswith("../"):
            target = (site / line).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x")
    return dist_info


def test_installed_folders_are_found_through_the_record(tmp_path):
    dist_info = _fake_install(tmp_path / "prefix", [
        "ibviewer/__init__.py",
        "../../share/ibviewer/resources/style.qss",
        "../../share/ibviewer/resources/icons/ibviewer.svg",
        "../../share/ibviewer/sample_models/digits_mlp/run.json",
    ])  # fmt: skip
    dist = metadata.PathDistribution(dist_info)
    share = (tmp_path / "prefix" / "share" / "ibviewer").resolve()
    assert data_files.installed_data_dir("resources", dist) == share / "resources"
    assert data_files.installed_data_dir("sample_models", dist) == share / "sample_models"
    shutil.rmtree(share / "sample_models")  # listed but deleted since: not there
    assert data_files.installed_data_dir("sample_models", dist) is None


def test_an_editable_install_lists_no_data_files(tmp_path):
    dist_info = _fake_install(tmp_path / "prefix", ["__editable__.ibviewer-0.1.0.pth", "../../bin/ibviewer"])
    assert data_files.installed_data_dir("resources", metadata.PathDistribution(dist_info)) is None


def test_an_installed_copy_outside_any_checkout_finds_its_share_folder(tmp_path):
    """The package copied into a prefix that is not sys.prefix (as ``pip install --prefix`` does)."""
    prefix = tmp_path / "prefix"
    _fake_install(prefix, [
        "../../share/ibviewer/resources/style.qss",
        "../../share/ibviewer/sample_models/digits_mlp/run.json",
    ])  # fmt: skip
    site = prefix / "lib" / "site-packages"
    shutil.copytree(REPO / "ibviewer", site / "ibviewer", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import sys, ibviewer\n"
        "from ibviewer import data_files\n"
        "from ibviewer.samples import samples_root\n"
        "print(ibviewer.__file__)\n"
        "print(data_files.source_checkout())\n"
        "print(data_files.data_dir('resources'))\n"
        "print(samples_root())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "IBVIEWER_SAMPLES_DIR"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    share = (prefix / "share" / "ibviewer").resolve()
    assert out == [str(site / "ibviewer" / "__init__.py"), "None", str(share / "resources"), str(share / "sample_models")]
