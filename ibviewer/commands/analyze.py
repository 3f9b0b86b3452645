"""`ibviewer analyze PATH --out DIR`: the information plane, per-layer embeddings, probes and
neighbours of a run, written as CSV, JSON and figures (headless; for servers and papers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

WHAT = ("infoplane", "embeddings", "probes")


def estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for the chosen estimator from the parsed options (only those given)."""
    params: dict[str, Any] = {}
    if args.estimator in ("binning", "adaptive") and args.bins is not None:
        params["n_bins"] = args.bins
    if args.estimator == "binning":
        if args.bin_width is not None:
            params["bin_width"] = args.bin_width
        if args.range is not None:
            params["value_range"] = tuple(args.range)
        elif args.range_per_layer:
            params["value_range"] = "layer"
    if args.estimator == "kde" and args.noise_var is not None:
        params["noise_var"] = args.noise_var
    return params


def register(subparsers: argparse._SubParsersAction) -> None:
    from ibviewer.cli import add_run_arguments
    from ibviewer.commands.mi import add_estimator_arguments

    parser = subparsers.add_parser(
        "analyze",
        help="write the information plane, embeddings, probes and neighbours of a run to a folder",
        description=(
            "Writes DIR/infoplane.csv|png|svg, DIR/embeddings/<epoch>/<layer>.csv, DIR/layers_e<epoch>.png, "
            "DIR/probes.csv and, with --select, DIR/neighbors.json."
        ),
    )
    parser.add_argument("path", help="run folder, checkpoint, .pt2 program or activations archive")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created; files in it are replaced)")
    parser.add_argument("--what", default="infoplane,embeddings,probes", help=f"comma-separated subset of {','.join(WHAT)}")
    add_run_arguments(parser)
    add_estimator_arguments(parser, jobs=True)
    group = parser.add_argument_group("embeddings, probes and neighbours")
    group.add_argument("--epochs", default="last", help="last, all, or a comma-separated list of saved epochs")
    group.add_argument("--method", choices=("pca", "tsne", "umap"), default="tsne")
    group.add_argument("--dims", type=int, choices=(2, 3), default=2)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--perplexity", type=float, default=None, help="t-SNE perplexity (default 30)")
    group.add_argument("--n-neighbors", type=int, default=None, help="UMAP n_neighbors (default 15)")
    group.add_argument("--alignment", choices=("init", "procrustes", "aligned_umap", "none"), default="init")
    group.add_argument("--preprocessing", choices=("none", "center", "standardize", "l2"), default="none")
    group.add_argument("--max-points", type=int, default=None, help="embed a seeded subset, place the rest afterwards")
    group.add_argument("--select", type=int, default=None, metavar="INDEX", help="write the neighbours of this sample")
    group.add_argument("--k", type=int, default=10, help="neighbours per layer for --select")
    group.add_argument("--metric", choices=("euclidean", "cosine", "dot"), default="euclidean")
    parser.set_defaults(func=run)


def _parse_what(text: str) -> set[str]:
    from ibviewer.errors import IBViewerError

    what = {part.strip() for part in text.split(",") if part.strip()}
    unknown = what - set(WHAT)
    if unknown or not what:
        raise IBViewerError(f"--what {text!r}: choose from {', '.join(WHAT)} (comma-separated).")
    return what


def _parse_epochs(text: str, available: tuple[int, ...]) -> list[int]:
    from ibviewer.errors import IBViewerError

    if text == "last":
        return [available[-1]]
    if text == "all":
        return list(available)
    try:
        epochs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise IBViewerError(f"--epochs {text!r}: give last, all, or saved epochs like 0,10,100.") from None
    missing = [e for e in epochs if e not in available]
    if missing or not epochs:
        raise IBViewerError(f"--epochs: {missing or text} not saved in this run; saved epochs: {list(available)}.")
    return epochs


def run(args: argparse.Namespace) -> int:
    from ibviewer.cli import extract_from_args, open_run_from_args
    from ibviewer.core.progress import SubProgress, TextProgress
    from ibviewer.errors import IBViewerError

    from ibviewer.commands.mi import check_estimator_options

    check_estimator_options(args)
    what = _parse_what(args.what)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise IBViewerError(f"--out {out} exists and is not a folder.")
    opened = open_run_from_args(args)
    epochs = _parse_epochs(args.epochs, opened.epochs)
    if args.select is not None and not 0 <= args.select < (opened.dataset.n_samples if opened.dataset else 0):
        raise IBViewerError(f"--select {args.select} is not a sample index of {opened.name} (0..{opened.dataset.n_samples - 1}).")
    if args.select is not None and args.max_samples is not None:
        from ibviewer.core.activations import choose_samples

        subset = choose_samples(opened.dataset.n_samples, args.max_samples)
        if args.select not in subset:
            raise IBViewerError(
                f"--select {args.select} is not among the {args.max_samples} samples --max-samples keeps "
                f"(seeded subset); e.g. sample {int(subset[0])} is. Raise --max-samples or select another sample."
            )
    out.mkdir(parents=True, exist_ok=True)
    progress = TextProgress()
    stages = ["extract", *[w for w in WHAT if w in what]]
    share = 1.0 / len(stages)

    def stage(name: str, prefix: str) -> SubProgress:
        i = stages.index(name)
        return SubProgress(progress, i * share, (i + 1) * share, prefix)

    acts = extract_from_args(opened, args, stage("extract", ""))
    written: list[Path] = []
    probes = None
    if "infoplane" in what:
        written += _infoplane(acts, args, out, stage("infoplane", "information plane: "))
    if "probes" in what:
        from ibviewer.core.probes import run_probes, write_probes_csv

        probes = run_probes(acts, epochs=epochs, seed=args.seed, progress=stage("probes", "probes: "))
        written.append(write_probes_csv(probes, out / "probes.csv"))
        for epoch in epochs:
            print(f"epoch {epoch}: {probes.pruning_note(epoch)}")
    if "embeddings" in what:
        written += _embeddings(opened, acts, args, epochs, probes, out, stage("embeddings", ""))
    if args.select is not None:
        written.append(_neighbors(acts, args, epochs[-1], out))
    progress.update(1.0, "done")
    for path in written:
        print(path)
    return 0


def _infoplane(acts, args: argparse.Namespace, out: Path, progress) -> list[Path]:  # noqa: ANN001
    from ibviewer.core.infoplane_figure import plot_information_plane
    from ibviewer.core.information import compute_information_plane, write_infoplane_csv

    plane = compute_information_plane(acts, args.estimator, progress=progress, n_jobs=args.jobs, cache_dir=args.cache_dir,
                                      use_cache=not args.no_cache, **estimator_params(args))
    paths = [out / "infoplane.png", out / "infoplane.svg"]
    plot_information_plane(plane, paths)
    return [write_infoplane_csv(plane, out / "infoplane.csv"), *paths]


def _embeddings(opened, acts, args: argparse.Namespace, epochs: list[int], probes, out: Path, progress) -> list[Path]:  # noqa: ANN001
    from ibviewer.core.embedding import embed_layers
    from ibviewer.core.layer_figure import plot_layer_grid, write_embeddings_csv

    params: dict[str, Any] = {}
    if args.perplexity is not None:
        params["perplexity"] = args.perplexity
    if args.n_neighbors is not None:
        params["n_neighbors"] = args.n_neighbors
    embeddings = embed_layers(
        acts, epochs=epochs, method=args.method, dims=args.dims, seed=args.seed, alignment=args.alignment,
        preprocessing=args.preprocessing, max_points=args.max_points, progress=progress,
        cache_dir=args.cache_dir, use_cache=not args.no_cache, **params,
    )
    data = opened.dataset
    written = list(write_embeddings_csv(embeddings, acts.labels, out / "embeddings", sample_idx=acts.sample_idx))
    for epoch in epochs:
        path = out / f"layers_e{epoch}.png"
        plot_layer_grid(embeddings, acts.labels, data.label_names if data else None, probes=probes, epoch=epoch, path=path)
        written.append(path)
    return written


def _neighbors(acts, args: argparse.Namespace, epoch: int, out: Path) -> Path:  # noqa: ANN001
    import numpy as np

    from ibviewer.core.cache import atomic_write_text
    from ibviewer.errors import IBViewerError

    rows = np.flatnonzero(acts.sample_idx == args.select)
    if rows.size == 0:
        raise IBViewerError(f"Sample {args.select} is not among the captured samples (--max-samples); raise it or drop it.")
    from ibviewer.core.neighbors import neighbors_across_layers

    result = neighbors_across_layers(acts, epoch, int(rows[0]), k=args.k, metric=args.metric)
    payload = {"sample": args.select, "epoch": epoch, "k": args.k, "metric": args.metric, **_jsonable(result)}
    path = out / "neighbors.json"
    atomic_write_text(path, json.dumps(payload, indent=1))
    return path


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
