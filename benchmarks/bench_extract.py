"""Extraction cost against a plain forward pass over the same data (goal: ratio <= 1.10).

784-512-256-128-10 ReLU MLP, 60,000 random inputs, batches of 1024, the three hidden
ReLU outputs captured into preallocated buffers. Both are timed in the same process,
interleaved, best of N repetitions (buffers allocated once, as the app does).

    python benchmarks/bench_extract.py [--repeats 5] [--samples 60000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from ibviewer.core.activations import ExtractOptions, ModuleCapture, fill_activations
from ibviewer.core.types import LayerInfo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    ).eval()
    x = np.random.default_rng(0).random((args.samples, 784), dtype=np.float32)
    layers = [LayerInfo("1", "ReLU", (512,), 512), LayerInfo("3", "ReLU", (256,), 256), LayerInfo("5", "ReLU", (128,), 128)]
    buffers = {layer.name: np.zeros((args.samples, layer.dim), np.float32) for layer in layers}
    options = ExtractOptions(batch_size=1024)

    def plain() -> None:
        with torch.no_grad():
            for start in range(0, args.samples, options.batch_size):
                model(torch.from_numpy(x[start : start + options.batch_size]))

    capture = ModuleCapture(model)

    def extract() -> None:
        fill_activations(capture, x, layers, buffers, options, torch.float32)

    plain()
    extract()  # warm-up: first-touch page faults of the buffers, allocator, threads
    plain_times, extract_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        plain()
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        extract()
        extract_times.append(time.perf_counter() - start)
    best_plain, best_extract = min(plain_times), min(extract_times)
    with torch.no_grad():
        check = nn.Sequential(*list(model)[:6])(torch.from_numpy(x[:100])).numpy()
    assert np.allclose(buffers["5"][:100], check, atol=1e-5), "captured values differ from a direct forward pass"
    print(f"torch threads: {torch.get_num_threads()}, samples: {args.samples}, repeats: {args.repeats}")
    print(f"plain forward pass : {best_plain:.3f} s (best of {args.repeats})")
    print(f"extraction (hooks) : {best_extract:.3f} s (best of {args.repeats})")
    print(f"ratio extraction / forward: {best_extract / best_plain:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()
