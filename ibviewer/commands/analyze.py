"""`ibviewer analyze PATH --out DIR`: the information plane, per-layer embeddings, probes and
neighbours of a run, written as CSV and figures (headless; for servers and papers).

This command is the core pipeline (`ibviewer.core.pipeline`) plus the writers
(`ibviewer.core.writers`): the GUI's File > Export Data writes the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ibviewer.commands.options import (
    add_embedding_arguments,
    add_estimator_arguments,
    add_neighbor_arguments,
    add_output_arguments,
    add_run_arguments,
    add_scheduler_argument,
    run_request_from_args,
    settings_from_args,
)

WHAT = ("infoplane", "embeddings", "probes")
#: what several runs analysed together add in DIR beside their subfolders
RUNS_OUTPUTS = ("infoplane_runs.csv", "infoplane_runs.json", "infoplane_runs.png", "infoplane_runs.svg")


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "analyze",
        parents=parents,
        help="write the information plane, embeddings, probes and neighbours of a run to a folder",
        description=(
            "Writes DIR/infoplane.csv|json|png|svg, DIR/embeddings.csv|json, DIR/layers_e<epoch>.png, DIR/probes.csv|json and, "
            "with --select, DIR/neighbors.csv (formats: docs/outputs.md), and DIR/ibviewer-outputs.json listing "
            "them with the settings. Outputs of an earlier analysis in DIR are replaced or removed; other files "
            "are never touched unless --overwrite."
        ),
    )
    parser.add_argument(
        "path", nargs="+", metavar="RUN",
        help="run folder, checkpoint, .pt2 program or activations archive; several runs are analysed together, "
        "each into its own subfolder of DIR named after the run",
    )  # fmt: skip
    add_output_arguments(parser)
    parser.add_argument(
        "--combine", choices=("compare", "average"), default="compare",
        help="several runs: also write DIR/infoplane_runs.csv|json|png|svg, their planes side by side (compare, the "
        "default: different setups) or averaged per layer and epoch with the spread over runs (average: seeds of one setup)",
    )  # fmt: skip
    parser.add_argument("--what", default=",".join(WHAT), help=f"comma-separated subset of {','.join(WHAT)}")
    parser.add_argument("--epochs", default="last", help="epochs to embed and probe: last, all, or a comma-separated list")
    parser.add_argument("--select", type=int, default=None, metavar="INDEX", help="write the neighbours of this sample (dataset index)")
    parser.add_argument(
        "--words", action="store_true",
        help="text runs: write DIR/words.csv, the word experiment's same-group neighbour share per layer for the last "
        "epoch and for the untrained first epoch (the control), with the run's query words",
    )  # fmt: skip
    add_run_arguments(parser)
    add_estimator_arguments(parser, jobs=True)
    add_embedding_arguments(parser)
    add_neighbor_arguments(parser)
    add_scheduler_argument(parser)
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


def _check_select(select: int, run, max_samples: int | None) -> None:  # noqa: ANN001
    from ibviewer.core.activations import choose_samples
    from ibviewer.errors import IBViewerError

    n = run.dataset.n_samples if run.dataset is not None else 0
    if not 0 <= select < n:
        raise IBViewerError(f"--select {select} is not a sample index of {run.name} (0..{n - 1}).")
    if max_samples is not None:
        subset = choose_samples(n, max_samples)
        if select not in subset:
            raise IBViewerError(
                f"--select {select} is not among the {max_samples} samples --max-samples keeps "
                f"(seeded subset); e.g. sample {int(subset[0])} is. Raise --max-samples or select another sample."
            )


def _check_options(args: argparse.Namespace, settings, run, request) -> None:  # noqa: ANN001
    """Options that need the opened run (sample counts): checked before anything slow starts."""
    from ibviewer.core.neighbors import MAX_K
    from ibviewer.errors import IBViewerError

    if args.words and (run.dataset is None or run.dataset.words is None or not run.extra.get("query_words")):
        raise IBViewerError(f"--words needs a text run with query words (run.json extra.query_words); {run.name} has none.")
    if args.jobs < 1:
        raise IBViewerError(f"--jobs {args.jobs} must be at least 1.")
    if args.select is not None:
        _check_select(args.select, run, request.max_samples)
        if settings.k > MAX_K:
            raise IBViewerError(f"--k {settings.k} is more than the {MAX_K} neighbours ibviewer finds; choose a smaller --k.")


def _planned_outputs(what: set[str], epochs: list[int], select: int | None, words: bool = False) -> list[str]:
    names = ["words.csv"] if words else []
    if "infoplane" in what:
        names += ["infoplane.csv", "infoplane.json", "infoplane.png", "infoplane.svg"]
    if "probes" in what:
        names += ["probes.csv", "probes.json"]
    if "embeddings" in what:
        names += ["embeddings.csv", "embeddings.json", *(f"layers_e{epoch}.png" for epoch in epochs)]
    if select is not None:
        names.append("neighbors.csv")
    return names


def run(args: argparse.Namespace) -> int:
    from ibviewer.core.pipeline import analyze_runs, open_request
    from ibviewer.core.progress import TextProgress
    from ibviewer.core.writers import OutputFolder

    # every option is checked, and every run opened, before anything slow starts
    settings = settings_from_args(args)
    requests = [run_request_from_args(args, path) for path in args.path]
    what = _parse_what(args.what)
    OutputFolder(args.out, overwrite=args.overwrite).prepare([])  # a folder, writable
    opened = [open_request(request) for request in requests]
    epochs = [_parse_epochs(args.epochs, run.epochs) for run in opened]
    for request, run_ in zip(requests, opened):
        _check_options(args, settings, run_, request)
    outputs = [
        OutputFolder(folder, overwrite=args.overwrite)
        for folder in _output_folders(Path(args.out).expanduser(), [run_.name for run_ in opened])
    ]
    for output, run_epochs in zip(outputs, epochs):
        output.prepare(_planned_outputs(what, run_epochs, args.select, args.words))
    combined_out = OutputFolder(args.out, overwrite=args.overwrite) if len(opened) > 1 and "infoplane" in what else None
    if combined_out is not None:
        combined_out.prepare(list(RUNS_OUTPUTS))
    progress = TextProgress()
    analyses = analyze_runs(
        list(zip(requests, opened)), settings, epochs=epochs, stages=frozenset(what), n_jobs=args.jobs,
        keep_activations=args.select is not None, progress=progress,
    )  # fmt: skip
    written: list[Path] = []
    for output, analysis, request, run_epochs in zip(outputs, analyses, requests, epochs):
        if len(analyses) > 1:
            print(f"{analysis.run.name}:")
        files = _write_outputs(output.folder, analysis, settings, args.select)
        if args.words:
            files.append(_write_word_shares(output.folder, analysis.run, request))
        record = {
            "command": "analyze", "run": request.to_dict(), "what": sorted(what), "epochs": run_epochs,
            "select": args.select, "settings": settings.to_dict(),
        }  # fmt: skip
        output.finish(files, record)
        written += files
    if combined_out is not None:
        files = _write_combined(combined_out.folder, analyses, [o.folder.name for o in outputs], args.combine)
        combined_out.finish(files, {"command": "analyze", "combine": args.combine, "runs": [o.folder.name for o in outputs],
                                    "settings": settings.to_dict()})  # fmt: skip
        written += files
    progress.update(1.0, "done")
    for path in written:
        print(path)
    return 0


def _output_folders(out: Path, names: list[str]) -> list[Path]:
    """``out`` for one run; for several, ``out/<run name>`` each (``name-2``, ... when names repeat)."""
    if len(names) == 1:
        return [out]
    folders, seen = [], set()
    for name in names:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "run"
        candidate, n = safe, 1
        while candidate in seen:
            n += 1
            candidate = f"{safe}-{n}"
        seen.add(candidate)
        folders.append(out / candidate)
    return folders


def _write_outputs(out: Path, analysis, settings, select: int | None) -> list[Path]:  # noqa: ANN001
    """Write one run's CSVs and figures into ``out``; returns the paths written."""
    import numpy as np

    from ibviewer.core.layer_names import layer_labels, pooling_note
    from ibviewer.core.naming import SampleNames
    from ibviewer.core.output_meta import sidecar_path
    from ibviewer.core.pipeline import find_neighbors
    from ibviewer.core.writers import write_embeddings_csv, write_infoplane_csv, write_neighbors_csv, write_probes_csv

    result, acts, epochs = analysis.result, analysis.activations, list(analysis.epochs)
    layers = acts.layers if acts is not None else analysis.run.layers
    labels = layer_labels(layers)
    note = pooling_note(acts) if acts is not None else ""
    written: list[Path] = []
    if result.infoplane is not None:
        from ibviewer.core.infoplane_figure import plot_information_plane

        figures = [out / "infoplane.png", out / "infoplane.svg"]
        plot_information_plane(result.infoplane, figures, layer_labels=labels, note=note)
        from ibviewer.core.information.plane_data import metadata_path

        csv_path = write_infoplane_csv(result.infoplane, out / "infoplane.csv")
        written += [csv_path, metadata_path(csv_path), *figures]
        from ibviewer.core.advice import plane_advice

        for advice in plane_advice(result.infoplane, settings):  # what the window's warnings panel offers
            fix = f" Fix: {advice.action} ({_as_options(advice.changes)})." if advice.changes else ""
            print(f"note: {advice.message}{fix}")
    if result.probes is not None:
        written += [write_probes_csv(result.probes, out / "probes.csv"), sidecar_path(out / "probes.csv")]
        for epoch in epochs:
            print(f"epoch {epoch}: {result.probes.pruning_note(epoch)}")
    if acts is None:
        return written
    names = SampleNames(acts, analysis.run.dataset)
    if result.embeddings is not None:
        from ibviewer.core.layer_figure import plot_layer_grid

        panels = [result.embeddings.get(epoch, layer) for epoch in epochs for layer in acts.layer_names]
        written += [write_embeddings_csv(out / "embeddings.csv", panels, acts, names), sidecar_path(out / "embeddings.csv")]
        for epoch in epochs:
            path = out / f"layers_e{epoch}.png"
            plot_layer_grid(
                result.embeddings, acts.labels, names.class_names(), probes=result.probes, epoch=epoch, path=path,
                layer_labels=labels, note=note,
            )  # fmt: skip
            written.append(path)
    if select is not None:
        rows = np.flatnonzero(acts.sample_idx == select)
        neighbors = find_neighbors(acts, epochs[-1], int(rows[0]), k=settings.k, metric=settings.metric)
        written.append(write_neighbors_csv(out / "neighbors.csv", neighbors, acts, names))
    return written


def _write_word_shares(out: Path, run, request) -> Path:  # noqa: ANN001
    """The word experiment's control for the run's query words, as ``words.csv``; prints its summary."""
    from ibviewer.core.pipeline import extract
    from ibviewer.core.word_control import write_word_shares_csv
    from ibviewer.core.words import word_shares
    from ibviewer.errors import IBViewerError

    acts = extract(run, request)
    control = word_shares(acts, run.dataset.words, [str(w) for w in run.extra["query_words"]])
    if control is None:
        raise IBViewerError(f"{run.name} has a single saved epoch: no untrained network to compare the word groups with.")
    print(control.summary())
    return write_word_shares_csv(control, out / "words.csv")


def _write_combined(out: Path, analyses, names: list[str], mode: str) -> list[Path]:  # noqa: ANN001
    """The runs' planes together (`ibviewer.core.multirun`), beside the per-run folders; prints what was combined."""
    from ibviewer.core.layer_names import layer_labels
    from ibviewer.core.multirun import combine_planes, plot_runs, write_runs_csv
    from ibviewer.core.output_meta import sidecar_path

    combined = combine_planes(names, [analysis.result.infoplane for analysis in analyses], mode)
    print(combined.describe())
    csv_path = write_runs_csv(combined, out / "infoplane_runs.csv")
    figures = plot_runs(combined, [out / "infoplane_runs.png", out / "infoplane_runs.svg"],
                        layer_labels=layer_labels(analyses[0].run.layers))  # fmt: skip
    return [csv_path, sidecar_path(csv_path), *figures]


def _as_options(changes: dict) -> str:  # noqa: ANN001
    """A settings change as the command-line options that make it (``estimator=renyi`` -> ``--estimator renyi``)."""
    from ibviewer.commands.options import options_for_settings

    return " ".join(options_for_settings(changes))
