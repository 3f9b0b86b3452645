"""Many checkpoints: wall time and memory on 1, 2 and 4 dask workers, and streamed against all-in-memory.

A generated ibviewer run: a 784-512-256-128-10 ReLU MLP whose weights drift over 200 saved
epochs, 10,000 generated inputs in 10 classes. Each measurement runs in a fresh process:

- ``workers``: the information plane over every epoch (binning over each layer's range, so two
  passes over the checkpoints) and the probes at a few epochs, as dask tasks on a LocalCluster of
  1, 2 and 4 single-threaded workers reached by address (as ``--scheduler tcp://...``): wall
  time, speed-up against one worker, peak memory (VmHWM) of every worker and of the client.
- ``memory``: the same analysis on fewer epochs, streamed in one process against today's
  all-in-memory route (extract everything, then analyse): peak RSS over the process's RSS
  before the analysis, the tracemalloc peak (numpy and Python allocations; torch's are not
  traced), and the memory plan's estimate (`ibviewer.core.activations.plan_memory`).

    python benchmarks/bench_scale.py all [--epochs 200] [--samples 10000] [--workers 1,2,4]
    python benchmarks/bench_scale.py memory [--memory-epochs 10,25,50]
    python benchmarks/bench_scale.py workers
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = [784, 512, 256, 128, 10]


def make_run(folder: Path, n_epochs: int, n_samples: int) -> Path:
    """Write the generated run (weights drift a little every epoch); reuse it when it exists."""
    import torch
    from safetensors.torch import save_file

    from ibviewer.models import mlp

    manifest = folder / "run.json"
    if manifest.exists():
        return folder
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 784)).astype(np.float32)
    y = rng.integers(0, 10, n_samples)
    x = (centres[y] + rng.normal(scale=2.0, size=(n_samples, 784))).astype(np.float32)
    np.savez(folder / "data.npz", x=x, y=y)
    torch.manual_seed(0)
    model = mlp(SIZES, activation="relu")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    drift = {k: torch.randn_like(v) * 0.002 for k, v in start.items()}
    entries = []
    for epoch in range(n_epochs):
        name = f"weights/epoch_{epoch:06d}.safetensors"
        save_file({k: (start[k] + epoch * drift[k]).contiguous() for k in start}, str(folder / name))
        entries.append(json.dumps({"epoch": epoch, "weights": name}))
    manifest.write_text(
        '{\n "format": "ibviewer-run",\n "version": 1,\n "name": "bench_scale",\n'
        f' "model": {{"factory": "ibviewer.models:mlp", "kwargs": {{"sizes": {SIZES}, "activation": "relu"}}}},\n'
        ' "dataset": "data.npz",\n "epochs": [\n  ' + ",\n  ".join(entries) + "\n ]\n}\n"
    )
    return folder


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _peak_kb() -> int:
    return _status_kb("VmHWM")


def _settings_and_epochs(run, n_probe_epochs: int):
    from ibviewer.core.config import AnalysisSettings

    picks = np.linspace(0, len(run.epochs) - 1, n_probe_epochs).round().astype(int)
    return AnalysisSettings(range_mode="layer"), tuple(sorted({run.epochs[i] for i in picks}))


def child(mode: str, folder: str, n_epochs: int, n_probe_epochs: int, max_samples: int | None, scheduler: str | None) -> dict:
    """One measurement in this (fresh) process; prints a JSON line."""
    import tracemalloc

    # imported before the baseline: the analysis's own memory is measured, not the libraries' code
    import joblib  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.neighbors  # noqa: F401
    import sklearn.preprocessing  # noqa: F401

    import ibviewer.core.information  # noqa: F401
    import ibviewer.core.probes  # noqa: F401
    import ibviewer.core.streaming  # noqa: F401
    from ibviewer.core.activations import ExtractOptions, plan_memory
    from ibviewer.core.config import RunRequest
    from ibviewer.core.pipeline import analyze_runs, extract, open_request, run_analysis

    request = RunRequest(folder, use_cache=False, scheduler=scheduler, max_samples=max_samples)
    run = open_request(request)
    if n_epochs < len(run.entries):  # the first n_epochs of the run
        run.source.entries = run.source.entries[:n_epochs]
    settings, probe_epochs = _settings_and_epochs(run, n_probe_epochs)
    stages = {"infoplane", "probes"}
    plan = run.capture_plan(ExtractOptions(max_samples=max_samples))
    rss_before = _status_kb("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    if mode == "in-memory":
        acts = extract(run, request)
        run_analysis(acts, settings, epochs=probe_epochs, stages=stages, use_cache=False)
        estimate = plan_memory(plan.layers, len(run.entries), len(plan.sample_idx), 1e9, input_bytes=run.input_bytes)
    else:
        analyze_runs([(request, run)], settings, epochs=[probe_epochs], stages=stages)
        estimate = plan_memory(plan.layers, 1, len(plan.sample_idx), 1e9, input_bytes=run.input_bytes)
    wall = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    return {
        "mode": mode, "epochs": len(run.entries), "wall_s": wall, "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": _peak_kb() / 1024, "added_peak_mb": (_peak_kb() - rss_before) / 1024,
        "traced_peak_mb": traced_peak / 2**20, "plan_mb": estimate / 2**20,
    }  # fmt: skip


def _run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "_child", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_workers(folder: Path, n_epochs: int, n_probe: int, max_samples: str, n_workers: int) -> dict:
    """The analysis on a fresh LocalCluster of ``n_workers`` reached by address; worker peaks read at the end."""
    import distributed

    from ibviewer.core.distributed import LOCAL_CLUSTER_OPTIONS

    with distributed.LocalCluster(n_workers=n_workers, **LOCAL_CLUSTER_OPTIONS) as cluster:
        with distributed.Client(cluster) as client:
            baseline = client.run(_status_kb, "VmRSS")
            result = _run_child("cluster", str(folder), str(n_epochs), str(n_probe), max_samples, cluster.scheduler_address)
            peaks = client.run(_peak_kb)
    result.update(
        workers=n_workers,
        worker_peak_mb=sorted(round(v / 1024) for v in peaks.values()),
        worker_baseline_mb=sorted(round(v / 1024) for v in baseline.values()),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("all", "memory", "workers", "_child"))
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--memory-epochs", default="10,25,50")
    parser.add_argument("--probe-epochs", type=int, default=2, help="epochs probed, evenly spaced (first and last)")
    parser.add_argument("--max-samples", type=int, default=0, help="capture a seeded subset of N inputs (0: all)")
    parser.add_argument("--folder", default=None, help="where the generated run is kept (default: a temporary folder)")
    args = parser.parse_args()
    if args.what == "_child":
        mode, folder, n_epochs, n_probe, max_samples, *rest = args.args
        print(json.dumps(child(mode, folder, int(n_epochs), int(n_probe), int(max_samples) or None, rest[0] if rest else None)))
        return
    folder = Path(args.folder or Path(tempfile.gettempdir()) / f"ibviewer_bench_scale_{args.epochs}_{args.samples}")
    make_run(folder, args.epochs, args.samples)
    print(f"run: {folder} ({args.epochs} epochs, {args.samples} inputs, captured: {args.max_samples or 'all'}); "
          f"probes at {args.probe_epochs} epochs; cores: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    if args.what in ("all", "memory"):
        print("\n| route | epochs | wall | RSS before | added peak RSS | tracemalloc peak | plan | plan / added peak |")
        print("|---|---|---|---|---|---|---|---|")
        for n in (int(e) for e in args.memory_epochs.split(",")):
            for mode in ("in-memory", "streamed"):
                r = _run_child(mode, str(folder), str(n), str(args.probe_epochs), str(args.max_samples))
                print(f"| {mode} | {n} | {r['wall_s']:.1f} s | {r['rss_before_mb']:.0f} MB | {r['added_peak_mb']:.0f} MB | "
                      f"{r['traced_peak_mb']:.0f} MB | {r['plan_mb']:.0f} MB | {r['plan_mb'] / r['added_peak_mb']:.2f} |",
                      flush=True)  # fmt: skip
    if args.what in ("all", "workers"):
        print(f"\n| workers | wall | speed-up | worker peak RSS (each) | worker RSS at start | client peak RSS | load |")
        print("|---|---|---|---|---|---|---|")
        first = None
        for n in (int(w) for w in args.workers.split(",")):
            load = os.getloadavg()[0]
            r = measure_workers(folder, args.epochs, args.probe_epochs, str(args.max_samples), n)
            first = first or r["wall_s"]
            print(f"| {n} | {r['wall_s']:.1f} s | {first / r['wall_s']:.2f}x | {r['worker_peak_mb']} MB | "
                  f"{r['worker_baseline_mb']} MB | {r['peak_rss_mb']:.0f} MB | {load:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
