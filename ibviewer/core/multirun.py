"""Several runs in one information plane: different setups side by side, or seeds of one setup averaged.

One seed is not a result: across seeds the size of the compression and the epoch of its peak
vary. :func:`combine_planes` puts the planes of several runs together, either to compare
setups (``"compare"``: every run keeps its own trajectories, e.g. tanh against ReLU) or to
average seeds (``"average"``: per layer and epoch the mean over runs and its standard
deviation, on the epochs every run saved). :func:`write_runs_csv` and :func:`plot_runs` write
what ``ibviewer analyze RUN RUN ... --combine`` puts beside the per-run folders; the GUI's
plane view draws the same combination (File > Add Run).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ibviewer.core.config import AnalysisSettings, RunRequest
from ibviewer.core.information import InformationPlane
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.errors import IBViewerError

__all__ = ["RunPlanes", "CombineMode", "combine_planes", "runs_rows", "write_runs_csv", "plot_runs", "plane_of_run",
           "COMBINE_MODES"]

CombineMode = Literal["compare", "average"]
COMBINE_MODES: tuple[str, ...] = ("compare", "average")


@dataclass(frozen=True, eq=False)
class RunPlanes:
    """The planes of several runs, combined.

    Attributes
    ----------
    mode : {"compare", "average"}
    names : tuple of str
        One per run.
    planes : tuple of InformationPlane
    layers : tuple of str
        ``"average"``: the layers every run has (in the first run's order); ``"compare"``: the first run's.
    epochs : tuple of int
        ``"average"``: the epochs every run saved; ``"compare"``: the union.
    i_xt_mean, i_xt_sd, i_ty_mean, i_ty_sd : ndarray or None
        ``"average"`` only: (n_epochs, n_layers) mean over runs and sample standard deviation (0 for one run).
    """

    mode: str
    names: tuple[str, ...]
    planes: tuple[InformationPlane, ...]
    layers: tuple[str, ...]
    epochs: tuple[int, ...]
    i_xt_mean: np.ndarray | None = None
    i_xt_sd: np.ndarray | None = None
    i_ty_mean: np.ndarray | None = None
    i_ty_sd: np.ndarray | None = None

    @property
    def n_runs(self) -> int:
        return len(self.planes)

    def describe(self) -> str:
        """One line: what was combined, how."""
        if self.mode == "average":
            return f"mean ± sd over {self.n_runs} runs ({', '.join(self.names)}), {len(self.epochs)} common epochs"
        return f"{self.n_runs} runs side by side: {', '.join(self.names)}"


def combine_planes(names: Sequence[str], planes: Sequence[InformationPlane], mode: str = "compare") -> RunPlanes:
    """Put several runs' planes together.

    Parameters
    ----------
    names : sequence of str
        A name per run (legend text).
    planes : sequence of InformationPlane
        Estimated with the same estimator.
    mode : {"compare", "average"}

    Raises
    ------
    IBViewerError
        Fewer than one plane, an unknown mode, different estimators, or (average) no common
        layer or epoch.
    """
    if mode not in COMBINE_MODES:
        raise IBViewerError(f"Unknown way to combine runs {mode!r}; choose {' or '.join(COMBINE_MODES)}.")
    if not planes or len(names) != len(planes):
        raise IBViewerError("Combining runs needs one name per information plane, and at least one plane.")
    estimators = {plane.estimator for plane in planes}
    if len(estimators) > 1:
        raise IBViewerError(f"The runs' planes use different estimators ({', '.join(sorted(estimators))}); estimate them alike.")
    if mode == "compare":
        epochs = tuple(sorted({e for plane in planes for e in plane.epochs}))
        return RunPlanes("compare", tuple(names), tuple(planes), tuple(planes[0].layers), epochs)
    layers = tuple(name for name in planes[0].layers if all(name in plane.layers for plane in planes))
    epochs = tuple(e for e in planes[0].epochs if all(e in plane.epochs for plane in planes))
    if not layers or not epochs:
        raise IBViewerError(
            "Averaging runs needs layers and epochs they all have (seeds of one setup); these share "
            f"{len(layers)} layers and {len(epochs)} epochs. Compare them side by side instead (--combine compare)."
        )
    stacks = {}
    for what in ("i_xt", "i_ty"):
        stacks[what] = np.stack([
            getattr(plane, what)[np.ix_([plane.epochs.index(e) for e in epochs], [plane.layers.index(n) for n in layers])]
            for plane in planes
        ])  # fmt: skip
    ddof = 1 if len(planes) > 1 else 0
    return RunPlanes(
        "average", tuple(names), tuple(planes), layers, epochs,
        i_xt_mean=stacks["i_xt"].mean(axis=0), i_xt_sd=stacks["i_xt"].std(axis=0, ddof=ddof),
        i_ty_mean=stacks["i_ty"].mean(axis=0), i_ty_sd=stacks["i_ty"].std(axis=0, ddof=ddof),
    )  # fmt: skip


def runs_rows(combined: RunPlanes) -> tuple[list[str], list[list[object]]]:
    """Columns and rows of ``infoplane_runs.csv``.

    ``"compare"``: ``run, epoch, layer, i_xt, i_ty`` for every run's cells; ``"average"``:
    ``epoch, layer, n_runs, i_xt_mean, i_xt_sd, i_ty_mean, i_ty_sd`` (bits; sd over runs).
    """
    if combined.mode == "compare":
        rows: list[list[object]] = [
            [name, epoch, layer, repr(float(plane.i_xt[e, k])), repr(float(plane.i_ty[e, k]))]
            for name, plane in zip(combined.names, combined.planes)
            for e, epoch in enumerate(plane.epochs)
            for k, layer in enumerate(plane.layers)
        ]
        return ["run", "epoch", "layer", "i_xt", "i_ty"], rows
    assert combined.i_xt_mean is not None and combined.i_xt_sd is not None
    assert combined.i_ty_mean is not None and combined.i_ty_sd is not None
    rows = [
        [epoch, layer, combined.n_runs, *(repr(float(a[e, k])) for a in
         (combined.i_xt_mean, combined.i_xt_sd, combined.i_ty_mean, combined.i_ty_sd))]
        for e, epoch in enumerate(combined.epochs)
        for k, layer in enumerate(combined.layers)
    ]  # fmt: skip
    return ["epoch", "layer", "n_runs", "i_xt_mean", "i_xt_sd", "i_ty_mean", "i_ty_sd"], rows


def write_runs_csv(combined: RunPlanes, path: str | Path) -> Path:
    """Write ``infoplane_runs.csv`` (see `runs_rows`) and its ``.json`` sidecar naming the runs; returns the CSV path."""
    from ibviewer.core.output_meta import write_sidecar
    from ibviewer.core.writers import write_csv

    columns, rows = runs_rows(combined)
    written = write_csv(path, columns, rows)
    write_sidecar(written, {
        "file": written.name, "what": "information planes of several runs", "mode": combined.mode,
        "runs": list(combined.names), "estimator": combined.planes[0].estimator,
        "params": [plane.params for plane in combined.planes], "n_samples": [plane.n_samples for plane in combined.planes],
        "spread": "sample standard deviation over runs" if combined.mode == "average" else None,
    })  # fmt: skip
    return written


def plot_runs(combined: RunPlanes, paths: Sequence[str | Path], layer_labels: Mapping[str, str] | None = None) -> list[Path]:
    """Draw the combined plane to every path (``.png``, ``.svg``, ``.pdf``), atomically.

    ``"compare"``: each run in its own colour, one line per layer through the epochs (the
    trajectory), the last epoch marked. ``"average"``: per layer the mean trajectory, with a
    ±1 sd ellipse at every epoch (the spread over runs).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse

    from ibviewer.core.infoplane_figure import FIGURE_FORMATS
    from ibviewer.core.writers import PLAIN_TEXT, write_output

    targets = [Path(p) for p in paths]
    bad = [t.name for t in targets if t.suffix.lower() not in FIGURE_FORMATS]
    if bad:
        raise IBViewerError(f"Cannot write a figure as {bad[0]!r}: use one of {', '.join(FIGURE_FORMATS)}.")
    labels = layer_labels or {}
    markers = ("o", "s", "^", "D", "v", "P", "X", "h")
    with matplotlib.rc_context(PLAIN_TEXT):
        figure = Figure(figsize=(7.5, 5.5), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        colours = matplotlib.colormaps["tab10"]
        handles = []
        if combined.mode == "compare":
            for r, (name, plane) in enumerate(zip(combined.names, combined.planes)):
                colour = colours(r % 10)
                for k in range(len(plane.layers)):
                    axes.plot(plane.i_xt[:, k], plane.i_ty[:, k], color=colour, alpha=0.8, linewidth=1.0,
                              marker=markers[k % len(markers)], markersize=3)  # fmt: skip
                    axes.scatter(plane.i_xt[-1, k], plane.i_ty[-1, k], color=colour, edgecolors="black", s=40,
                                 marker=markers[k % len(markers)], zorder=4)  # fmt: skip
                handles.append(Line2D([], [], color=colour, label=name))
        else:
            assert combined.i_xt_mean is not None and combined.i_ty_mean is not None
            assert combined.i_xt_sd is not None and combined.i_ty_sd is not None
            for k, layer in enumerate(combined.layers):
                colour = colours(k % 10)
                x, y = combined.i_xt_mean[:, k], combined.i_ty_mean[:, k]
                for e in range(len(combined.epochs)):
                    axes.add_patch(Ellipse((x[e], y[e]), 2 * combined.i_xt_sd[e, k], 2 * combined.i_ty_sd[e, k],
                                           color=colour, alpha=0.15, linewidth=0))  # fmt: skip
                axes.plot(x, y, color=colour, linewidth=1.4, marker=markers[k % len(markers)], markersize=3)
                handles.append(Line2D([], [], color=colour, marker=markers[k % len(markers)], label=labels.get(layer, layer)))
        log2_n = max(plane.log2_n for plane in combined.planes)
        h_y = max(plane.h_y for plane in combined.planes)
        axes.axvline(log2_n, color="0.45", linestyle=":", linewidth=1.0)
        axes.axhline(h_y, color="0.45", linestyle=":", linewidth=1.0)
        axes.set_xlim(0.0, log2_n * 1.04 if log2_n > 0 else 1.0)
        axes.set_ylim(0.0, h_y * 1.06 if h_y > 0 else 1.0)
        axes.set_xlabel("I(X;T) (bits)")
        axes.set_ylabel("I(T;Y) (bits)")
        axes.set_title(f"Information plane: {combined.planes[0].label()}\n{combined.describe()}", fontsize=9)
        axes.legend(handles=handles, title="Runs" if combined.mode == "compare" else "Layers (mean ± sd)",
                    fontsize=7, title_fontsize=8, loc="lower right", frameon=False)  # fmt: skip
        written = []
        for target in targets:
            buffer = io.BytesIO()
            fmt = target.suffix.lower().lstrip(".")
            metadata = {"Title": "Information plane of several runs"}
            if fmt == "svg":
                metadata["Date"] = None  # type: ignore[assignment]
            elif fmt == "pdf":
                metadata["CreationDate"] = None  # type: ignore[assignment]
            figure.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
            written.append(write_output(target, buffer.getvalue()))
    return written


def plane_of_run(
    request: RunRequest, settings: AnalysisSettings, *, progress: Progress = NULL_PROGRESS
) -> tuple[str, InformationPlane]:
    """Open a run and estimate its information plane with ``settings``: (its name, the plane).

    What the GUI's File > Add Run computes for each added run (the same pipeline as the
    shown run's plane, so the planes are comparable).
    """
    from ibviewer.core.pipeline import open_and_extract, run_analysis
    from ibviewer.core.progress import SubProgress

    opened = open_and_extract(request, progress=SubProgress(progress, 0.0, 0.6))
    result = run_analysis(
        opened.activations, settings, epochs=opened.activations.epochs[-1:], stages={"infoplane"},
        cache_dir=request.cache_dir, use_cache=request.use_cache, progress=SubProgress(progress, 0.6, 1.0),
    )  # fmt: skip
    return opened.run.name, result.infoplane
