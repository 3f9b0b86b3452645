"""Where ibviewer's bundled data is: the top-level ``resources/`` and ``sample_models/`` folders.

Two cases, asked in this order:

1. A source checkout (development, and the editable install ``make run``/``make test``
   make): the folders sit beside the ``ibviewer`` package, next to ``pyproject.toml``.
2. An installed wheel: ``pyproject.toml`` ships the folders as data files under
   ``share/ibviewer/`` of the install scheme. The distribution's RECORD
   (:mod:`importlib.metadata`) lists every file it installed, so the folder is found
   wherever the installer put it (a venv, ``pip install --user``, ``--prefix``); an
   install without a RECORD falls back to the scheme's data path (:mod:`sysconfig`).

No Qt here: the GUI's resources and the samples both ask this module.
"""

from __future__ import annotations

import sysconfig
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Literal

__all__ = ["DataFolder", "DISTRIBUTION", "data_dir", "data_dir_candidates", "source_checkout", "installed_data_dir"]

DataFolder = Literal["resources", "sample_models"]

DISTRIBUTION = "ibviewer"
_SHARE = ("share", "ibviewer")


def source_checkout() -> Path | None:
    """The root of the source checkout this package runs from, or None when it is installed."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def installed_data_dir(folder: DataFolder, dist: metadata.Distribution | None = None) -> Path | None:
    """Where the installed distribution put ``share/ibviewer/<folder>``, read from its RECORD.

    Parameters
    ----------
    folder : {"resources", "sample_models"}
    dist : importlib.metadata.Distribution, optional
        Default: the installed ``ibviewer`` distribution, if any.

    Returns
    -------
    Path or None
        The folder, or None when no installed file lies in it (not installed, an
        editable install, or an installer that writes no RECORD).
    """
    if dist is None:
        dist = _installed_distribution()
        if dist is None:
            return None
    wanted = (*_SHARE, folder)
    for file in dist.files or ():
        parts = PurePosixPath(file).parts
        for i in range(len(parts) - len(wanted)):
            if parts[i : i + len(wanted)] == wanted:
                located = Path(dist.locate_file(PurePosixPath(*parts[: i + len(wanted)]))).resolve()
                return located if located.is_dir() else None
    return None


@lru_cache(maxsize=1)
def _installed_distribution() -> metadata.Distribution | None:
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def data_dir_candidates(folder: DataFolder) -> list[Path]:
    """Where ``folder`` is looked for, in order (named in error messages)."""
    candidates = []
    checkout = source_checkout()
    if checkout is not None:
        candidates.append(checkout / folder)
    installed = installed_data_dir(folder)
    if installed is not None:
        candidates.append(installed)
    candidates.append(Path(sysconfig.get_path("data")).joinpath(*_SHARE, folder))
    return candidates


def data_dir(folder: DataFolder) -> Path | None:
    """The bundled ``resources`` or ``sample_models`` folder: the checkout's, else the installed one; None if absent."""
    return next((candidate for candidate in data_dir_candidates(folder) if candidate.is_dir()), None)
