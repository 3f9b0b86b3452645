"""Hostile and broken inputs, generated inside each test's ``tmp_path``: none is shipped.

Every payload here, if it ever ran, would create the file its ``marker`` names; the
tests assert that the marker does not exist (and, where it proves the payload is live,
that it does exist once the user consents).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ibviewer.models import mlp

SIZES = [12, 8, 2]  # an MLP on ib12's 12 input bits


class Payload:
    """Unpickling this calls ``os.mkdir(marker)``: the marker appears iff the pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # noqa: ANN204
        return (os.mkdir, (self.marker,))


def pickle_payload(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker), protocol=2)


def evil_module(path: Path, marker: Path) -> Path:
    """A model file whose import creates ``marker`` and whose ``build`` returns a real MLP."""
    path.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from ibviewer.models import mlp\n\n"
        f"def build():\n    return mlp({SIZES})\n"
    )
    return path


def run_folder(folder: Path, factory: str = "ibviewer.models:mlp", kwargs: dict | None = None, **manifest) -> Path:
    """An ibviewer run folder (two epochs of a 12-8-2 MLP on ib12); ``manifest`` overrides run.json keys."""
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    entries = []
    for epoch in (0, 1):
        save_file(mlp(SIZES).state_dict(), folder / f"weights/e{epoch}.safetensors")
        entries.append({"epoch": epoch, "weights": f"weights/e{epoch}.safetensors"})
    data = {
        "format": "ibviewer-run", "version": 1,
        "model": {"factory": factory, "kwargs": {"sizes": SIZES} if kwargs is None else kwargs},
        "dataset": "ib12", "epochs": entries, **manifest,
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(data))
    return folder


def export_program(path: Path, dynamic: bool = False) -> Path:
    """A genuine ``torch.export`` program of the 12-8-2 MLP."""
    torch.manual_seed(0)
    model = mlp(SIZES).eval()
    shapes = ({0: torch.export.Dim("batch", min=2)},) if dynamic else None
    torch.export.save(torch.export.export(model, (torch.zeros(4, 12),), dynamic_shapes=shapes), path)
    return path


def rewrite_pt2(
    source: Path,
    target: Path,
    replace: dict[str, bytes] | None = None,
    edit: Callable[[dict, dict], None] | None = None,
) -> Path:
    """Copy a ``.pt2`` archive, replacing entries (names without the root folder) and editing its JSON.

    ``edit(program, configs)`` may change ``models/model.json`` (``program``) and the
    ``*_config.json`` entries (``configs``, by entry name) in place; new names in ``replace`` are added.
    """
    replace = dict(replace or {})
    with zipfile.ZipFile(source) as archive:
        root = archive.namelist()[0].split("/")[0]
        entries = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    program = json.loads(entries["models/model.json"])
    configs = {name: json.loads(data) for name, data in entries.items() if name.endswith("_config.json")}
    if edit is not None:
        edit(program, configs)
    entries["models/model.json"] = json.dumps(program).encode()
    entries.update({name: json.dumps(config).encode() for name, config in configs.items()})
    entries.update(replace)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(f"{root}/{name}" if not name.startswith("/") else name[1:], data)
    target.write_bytes(buffer.getvalue())
    return target


def npz_declaring(path: Path, members: dict[str, tuple[tuple[int, ...], str]]) -> Path:
    """A ``.npz`` whose members' headers declare ``shape``/``dtype`` but hold only a few bytes of data."""
    from numpy.lib import format as npy

    import numpy as np

    with zipfile.ZipFile(path, "w") as archive:
        for name, (shape, dtype) in members.items():
            header = io.BytesIO()
            npy.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
            archive.writestr(f"{name}.npy", header.getvalue() + b"\0" * 64)  # the header starts with the magic
    return path


def small_module() -> nn.Module:
    return mlp(SIZES)
