"""What the sample trainers share: output-folder checks, seeding, the classifier training loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.recorder import Recorder
from ibviewer.core.run_format import MANIFEST_NAME, read_manifest
from ibviewer.errors import IBViewerError, RunFormatError

if TYPE_CHECKING:
    import torch
    from torch import nn

REPRODUCE = "ibviewer train-sample {name} --out DIR"


def prepare_out_dir(out_dir: str | Path, name: str) -> Path:
    """The output folder, checked: new, empty, or an earlier run of the same sample (retrained from scratch).

    Raises
    ------
    IBViewerError
        ``out_dir`` is a file, or a non-empty folder that does not hold a run of sample ``name``.
    """
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise IBViewerError(f"--out {path} is a file; give a folder for the run.")
    if path.is_dir() and any(path.iterdir()):
        manifest = path / MANIFEST_NAME
        owner = None
        if manifest.is_file():
            try:
                owner = read_manifest(manifest).name
            except RunFormatError:
                owner = None
        if owner != name:
            what = f"a run of {owner!r}" if owner else "files that are not a run of this sample"
            raise IBViewerError(
                f"{path} is not empty: it holds {what}. train-sample only overwrites an earlier "
                f"{name} run; choose a new or empty folder."
            )
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Seed torch and use one thread in torch and BLAS; restore the thread counts after.

    One thread makes results repeat exactly on one machine, and for these small
    models it is also the fastest: threads fighting over shared cores cost up to 10x.
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def split_indices(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, stratified (train, test) split of sample indices, each sorted."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return np.sort(train_idx).astype(np.int64), np.sort(test_idx).astype(np.int64)


@dataclass(frozen=True)
class ClassifierSample:
    """Settings of an MLP classifier sample (see the sample modules)."""

    name: str
    dataset: str
    sizes: tuple[int, ...]
    activation: Literal["tanh", "relu"]
    epochs: int
    n_snapshots: int
    lr: float
    batch_size: int
    test_fraction: float = 0.2
    weights_dtype: Literal["float32", "float16"] = "float32"

    def model_kwargs(self) -> dict[str, Any]:
        return {"sizes": list(self.sizes), "activation": self.activation}

    def layers(self) -> list[str]:
        return [f"net.{2 * k + 1}" for k in range(len(self.sizes) - 2)]


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, splits: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean cross-entropy and accuracy of a classifier on each split: ``{"loss", "train_acc", "test_loss", ...}``."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(x)
        losses = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        correct = (logits.argmax(dim=1) == y).float()
    model.train()
    metrics: dict[str, float] = {}
    for split, idx in splits.items():
        prefix = "" if split == "train" else f"{split}_"
        index = torch.from_numpy(idx)
        metrics[f"{prefix}loss"] = significant(float(losses[index].mean()))
        metrics[f"{split}_acc"] = significant(float(correct[index].mean()))
    return metrics


def significant(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (a tiny loss stays non-zero)."""
    return float(f"{value:.{digits}g}")


def train_classifier(
    sample: ClassifierSample,
    out_dir: str | Path,
    epochs: int | None,
    seed: int,
    progress: Progress = NULL_PROGRESS,
    write_card: Callable[[Path, dict[str, Any]], None] | None = None,
) -> Path:
    """Train an MLP sample from scratch with Adam and record it with the :class:`Recorder`.

    Epoch 0 is the untrained network; each later epoch is one pass over the
    training split in seeded random mini-batches. Snapshots are log-spaced.
    ``write_card(run_dir, settings)`` writes the model card at the end.
    """
    import torch

    from ibviewer.core.datasets import load_dataset
    from ibviewer.models import mlp

    n_epochs = sample.epochs if epochs is None else _check_epochs(epochs)
    path = prepare_out_dir(out_dir, sample.name)
    data = load_dataset(sample.dataset)
    train_idx, test_idx = split_indices(data.y, sample.test_fraction, seed)
    settings = {
        "seed": seed,
        "epochs": n_epochs,
        "optimizer": "Adam",
        "lr": sample.lr,
        "batch_size": sample.batch_size,
        "loss": "cross-entropy",
        "test_fraction": sample.test_fraction,
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "weights_dtype": sample.weights_dtype,
    }
    recorder = Recorder(
        path,
        "ibviewer.models:mlp",
        sample.model_kwargs(),
        sample.dataset,
        schedule="log",
        n_epochs=n_epochs,
        n_snapshots=sample.n_snapshots,
        layers=sample.layers(),
        name=sample.name,
        extra={"sample": sample.name, "training": settings},
        test_indices=test_idx,
        restart=True,
    )
    dtype = torch.float16 if sample.weights_dtype == "float16" else None
    started = time.perf_counter()
    with seeded_torch(seed):
        model = mlp(list(sample.sizes), sample.activation)
        optimizer = torch.optim.Adam(model.parameters(), lr=sample.lr)
        generator = torch.Generator().manual_seed(seed)
        x = torch.from_numpy(np.asarray(data.x, dtype=np.float32))
        y = torch.from_numpy(data.y)
        x_train, y_train = x[torch.from_numpy(train_idx)], y[torch.from_numpy(train_idx)]
        splits = {"train": train_idx, "test": test_idx}
        for epoch in range(n_epochs + 1):
            progress.check_cancelled()
            if epoch > 0:
                order = torch.randperm(len(train_idx), generator=generator)
                for start in range(0, len(order), sample.batch_size):
                    batch = order[start : start + sample.batch_size]
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
                    loss.backward()
                    optimizer.step()
            if recorder.should_record(epoch):
                recorder.record(epoch, model, evaluate(model, x, y, splits), dtype=dtype)
            progress.update(epoch / n_epochs, f"{sample.name}: epoch {epoch}/{n_epochs}")
        settings["train_seconds"] = round(time.perf_counter() - started, 1)
        if write_card is not None:
            progress.update(1.0, f"{sample.name}: writing the model card")
            write_card(path, settings)
    return path


def _check_epochs(epochs: int) -> int:
    if int(epochs) < 1:
        raise IBViewerError(f"--epochs must be at least 1, got {epochs}.")
    return int(epochs)


def final_metrics(run_dir: Path) -> tuple[int, dict[str, float]]:
    """The last recorded epoch of a run folder and its metrics."""
    last = read_manifest(run_dir / MANIFEST_NAME).epochs[-1]
    return last.epoch, dict(last.metrics)


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def settings_markdown(settings: dict[str, Any]) -> str:
    """Training settings as a Markdown bullet list (for model cards)."""
    return "\n".join(f"- {key.replace('_', ' ')}: {value}" for key, value in settings.items() if key != "train_seconds")


def training_section(name: str, settings: dict[str, Any], snapshots: str, needs: str = "") -> str:
    """The "Training" section of a model card: settings, snapshots, how to reproduce."""
    return f"""## Training
{settings_markdown(settings)}

{snapshots}

Reproduce: `ibviewer train-sample {name} --out DIR` (seed 0, the settings above{needs};
{settings['train_seconds']:.0f} s of training on one CPU core of a shared 2-core machine here).
"""


def accuracy_lines(metrics: dict[str, float]) -> str:
    """Final train/test accuracy and loss of a classifier, as a Markdown bullet."""
    nan = float("nan")
    return (
        f"- train accuracy {metrics.get('train_acc', nan):.4f}, test accuracy {metrics.get('test_acc', nan):.4f}, "
        f"train loss {metrics.get('loss', nan):.3g}, test loss {metrics.get('test_loss', nan):.3g}."
    )
