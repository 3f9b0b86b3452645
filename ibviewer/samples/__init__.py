"""The bundled sample runs: a registry, where they live, and how to retrain them.

Each sample has a module here with ``train(out_dir, epochs=None, seed=0,
progress=NULL_PROGRESS) -> Path`` that trains it from scratch with the
:class:`~ibviewer.core.recorder.Recorder`; the trained runs ship in the
repository's ``sample_models/<name>/`` folders.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run_format import MANIFEST_NAME
from ibviewer.data_files import data_dir_candidates
from ibviewer.errors import IBViewerError

__all__ = ["SampleInfo", "SAMPLES", "DEFAULT_SAMPLE", "sample_path", "sample_module", "train_sample", "samples_root"]


@dataclass(frozen=True)
class SampleInfo:
    """One bundled sample: its name, a one-line description and whether it needs an installed corpus."""

    name: str
    description: str
    needs: str | None = None

    def module(self) -> ModuleType:
        return importlib.import_module(f"ibviewer.samples.{self.name}")


SAMPLES: dict[str, SampleInfo] = {
    info.name: info
    for info in (
        SampleInfo("digits_mlp", "MLP 64-64-32-16-10 (tanh) on scikit-learn's 8x8 digits: classes separate layer by layer"),
        SampleInfo("digits_relu", "the ReLU twin of digits_mlp (tanh vs ReLU in the information plane)"),
        SampleInfo("ib12_tanh", "Shwartz-Ziv & Tishby's 12-10-7-5-4-3-2 tanh network on 12-bit inputs (information plane)"),
        SampleInfo("word_lm", "small word-level language model trained on WordNet 3.0 glosses (word experiment)",
                   needs="WordNet 3.0 (apt-get install wordnet-base)"),
    )
}  # fmt: skip

#: The sample ``ibviewer`` opens with no arguments. ib12_tanh: at the default estimator (binning,
#: the published setting) its information plane shows a real trajectory, fitting then
#: compression in net.7 and net.9, with the two wide layers marked as at the ceiling and lying on
#: their shuffled-label null. The digits samples' 64- and 32-unit layers resolve every one of their
#: 1797 samples with any bins (every layer at log2 N: a picture that says nothing until the user
#: takes the Rényi estimator the warning offers). docs/information.md, "Reading the plane honestly".
DEFAULT_SAMPLE = "ib12_tanh"


def samples_root() -> Path:
    """Where the bundled sample runs are: ``$IBVIEWER_SAMPLES_DIR``, the source checkout, or the installed copy.

    Raises
    ------
    IBViewerError
        No folder of bundled samples is found.
    """
    candidates = []
    if os.environ.get("IBVIEWER_SAMPLES_DIR"):
        candidates.append(Path(os.environ["IBVIEWER_SAMPLES_DIR"]).expanduser())
    candidates += data_dir_candidates("sample_models")  # see ibviewer.data_files
    for folder in candidates:
        if folder.is_dir() and any((folder / name / MANIFEST_NAME).is_file() for name in SAMPLES):
            return folder
    raise IBViewerError(
        "The bundled sample runs were not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Run ibviewer from its source folder, set IBVIEWER_SAMPLES_DIR, or make one with "
        "`ibviewer train-sample NAME --out DIR`."
    )


def _check_name(name: str) -> SampleInfo:
    info = SAMPLES.get(name)
    if info is None:
        raise IBViewerError(f"Unknown sample {name!r}. Samples: {', '.join(SAMPLES)}.")
    return info


def sample_path(name: str = DEFAULT_SAMPLE) -> Path:
    """The folder of a bundled sample run, e.g. ``sample_path("digits_mlp")``.

    Raises
    ------
    IBViewerError
        Unknown name, or the bundled run is missing.
    """
    _check_name(name)
    path = samples_root() / name
    if not (path / MANIFEST_NAME).is_file():
        raise IBViewerError(
            f"The bundled sample {name!r} is missing from {path.parent}. "
            f"Make it with `ibviewer train-sample {name} --out DIR`."
        )
    return path


def sample_module(name: str) -> ModuleType:
    """The module that trains sample ``name`` (it has ``train``, ``NAME``, ``DEFAULT_EPOCHS``)."""
    return _check_name(name).module()


def train_sample(
    name: str, out_dir: str | os.PathLike[str], epochs: int | None = None, seed: int = 0,
    progress: Progress = NULL_PROGRESS,
) -> Path:  # fmt: skip
    """Train sample ``name`` from scratch into ``out_dir``; see each sample module's ``train``.

    Raises
    ------
    IBViewerError
        Unknown sample, a non-empty ``out_dir`` holding something else, or a missing corpus.
    """
    return sample_module(name).train(out_dir, epochs=epochs, seed=seed, progress=progress)
