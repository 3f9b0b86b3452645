"""Train a small ReLU CNN on the 8x8 digits and record it as an ibviewer run (for the renyi notes).

    python benchmarks/digits_cnn.py --out /tmp/digits_cnn [--epochs 100] [--seed 0]

The network: the 64 pixels as a 1x8x8 image -> conv 3x3 (8 channels) + ReLU -> conv 3x3 (16
channels) + ReLU -> 2x2 max-pool -> 64 ReLU units -> 10 logits. Its hidden representations are
feature maps of 8x8x8 = 512 and 16x8x8 = 1024 values, a pooled 16x4x4 = 256 map and a 64-unit
layer: the wide ReLU layers on which binning and KDE sit at log2(N). Seeded, stratified 80/20
split as for the bundled digits samples; 30 log-spaced snapshots. The run folder holds a copy
of this model (``model.py``) so that ``ibviewer analyze OUT`` can rebuild it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """conv(1->8) ReLU, conv(8->16) ReLU, max-pool, linear(256->64) ReLU, linear(64->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(-1, 1, 8, 8)))


def train(out: Path, n_epochs: int = 100, seed: int = 0, n_snapshots: int = 30) -> Path:
    """Train and record the CNN into ``out``; return the run folder."""
    import numpy as np

    import ibviewer
    from ibviewer.core.datasets import load_dataset

    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(__file__, out / "model.py")
    data = load_dataset("digits")
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    rng = np.random.default_rng(seed)
    test_idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(data.y == c))[: round(0.2 * np.sum(data.y == c))] for c in range(10)]))
    train_idx = torch.from_numpy(np.setdiff1d(np.arange(len(data.y)), test_idx))
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rec = ibviewer.Recorder(
        out, model_factory="model.py:DigitsCNN", dataset="digits", schedule="log", n_epochs=n_epochs,
        n_snapshots=n_snapshots, test_indices=test_idx, extra={"seed": seed, "lr": 1e-3, "batch_size": 32},
    )  # fmt: skip
    test = torch.from_numpy(test_idx)

    def accuracy(idx: torch.Tensor) -> float:
        with torch.no_grad():
            return float((model(x[idx]).argmax(1) == y[idx]).float().mean())

    for epoch in range(n_epochs + 1):
        if epoch > 0:
            for batch in train_idx[torch.randperm(len(train_idx), generator=g)].split(32):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
        if rec.should_record(epoch):
            rec.record(epoch, model, {"train_acc": accuracy(train_idx), "test_acc": accuracy(test)})
    print(f"epoch {n_epochs}: train accuracy {accuracy(train_idx):.4f}, test accuracy {accuracy(test):.4f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train(args.out, args.epochs, args.seed)


if __name__ == "__main__":
    main()
