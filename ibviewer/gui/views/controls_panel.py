"""Live controls: estimator, embedding and display settings, a sensitivity view, a regex search, the cluster.

The panel shows `AppState`'s settings and emits an edited `AnalysisSettings` (debounced, so
dragging a spin box sends one change) through ``settings_edited``; the window's controller
puts it into the state and recomputes only what `settings_diff` names. The sensitivity view
draws ``state.sensitivity``, I(X;T) and I(T;Y) of one layer over a range of bin counts (noise
variances for kde, kernel widths for renyi), because the information plane depends on the estimator; "Sweep"
asks for it with ``sensitivity_requested``. The search box selects, through `AppState`,
every sample whose word, name or label matches a regular expression, so the matches are
highlighted in every view. "Run on" names where analyses run (this process, or a dask cluster:
``RunRequest.scheduler``); it is a choice of the machine, emitted with ``scheduler_edited``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ibviewer.core.config import (
    ALIGNMENTS,
    COLOR_MODES,
    CONV_KERNELS,
    ESTIMATORS,
    METHODS,
    PREPROCESSINGS,
    RANGE_MODES,
    SCHEDULER_HELP,
    WIDTH_RULES,
    AnalysisSettings,
    parse_scheduler,
)
from ibviewer.errors import IBViewerError
from ibviewer.gui.state import AppState
from ibviewer.gui.widgets.style import make_pen

if TYPE_CHECKING:
    from ibviewer.core.pipeline import SensitivityResult

__all__ = ["ControlsPanel"]

DEBOUNCE_MS = 250
PCA_BEFORE_DIMS = 50
#: what a sensitivity sweep varies (`SensitivityResult.parameter`) -> its axis title, and whether on a log axis
SWEPT: dict[str, tuple[str, bool]] = {
    "n_bins": ("number of bins", False),
    "noise_var": ("noise variance", True),
    "width_factor": ("kernel width (× the width rule)", True),
    "kernel_width": ("kernel width", True),
}
#: The "PCA first" choices: automatic (to 50 dimensions above 100 features), always, never.
PCA_BEFORE_CHOICES = (
    ("automatic (50 dims above 100 features)", "auto"),
    (f"to {PCA_BEFORE_DIMS} dimensions", PCA_BEFORE_DIMS),
    ("none", None),
)


def _combo(parent: QWidget, items: dict[str, str], tip: str) -> QComboBox:
    combo = QComboBox(parent)
    for key, text in items.items():
        combo.addItem(text, key)
    combo.setToolTip(tip)
    return combo


def _set_combo(combo: QComboBox, key: Any) -> None:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)


def _sweep_key(settings: AnalysisSettings) -> tuple[Any, ...]:
    """The settings a sweep's curves depend on (not the swept value itself, which only moves the marker)."""
    renyi = settings.estimator == "renyi"
    return (settings.estimator, settings.range_mode) + (
        (settings.alpha, settings.width_rule, settings.conv_kernel, settings.kernel_width is None) if renyi else ()
    )


def _current_value(settings: AnalysisSettings, result: SensitivityResult) -> tuple[float, bool]:
    """Where ``settings`` sit on the sweep's axis, and whether they sit on it at all (not a bin width instead)."""
    if result.parameter == "noise_var":
        return settings.noise_var, True
    if result.parameter == "n_bins":
        return settings.n_bins, settings.bin_width is None
    if result.parameter == "kernel_width":
        return settings.kernel_width or 1.0, settings.kernel_width is not None
    # width_factor: without one set, the rule's own factor (the one the sweep was made around)
    return settings.width_factor or result.current or 1.0, settings.kernel_width is None


class ControlsPanel(QWidget):
    """Estimator, embedding and display controls; emits the edited `AnalysisSettings` (debounced).

    Signals
    -------
    settings_edited(object)
        The new `AnalysisSettings`, at most once per ``DEBOUNCE_MS`` of editing.
    sensitivity_requested(str, object)
        Sweep this layer's estimate over the estimator's resolution, with these `AnalysisSettings`.
    scheduler_edited(object)
        Where analyses run now: None (this process), ``"local:N"`` or a scheduler's address.
    """

    settings_edited = Signal(object)
    sensitivity_requested = Signal(str, object)
    scheduler_edited = Signal(object)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._updating = False
        self._search_selected = False
        self._requested: tuple[str, int] | None = None  # (layer, epoch) of the last sweep asked for
        self._scheduler: str | None = None  # where analyses run (shown in "run on")
        self.auto_sweep = False  # after the first sweep, the view follows layer, epoch and estimator changes
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.apply_search)
        self._sensitivity_timer = QTimer(self)
        self._sensitivity_timer.setSingleShot(True)
        self._sensitivity_timer.setInterval(DEBOUNCE_MS)
        self._sensitivity_timer.timeout.connect(self.request_sensitivity)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._build_estimator_box())
        layout.addWidget(self._build_sensitivity_box())
        layout.addWidget(self._build_embedding_box())
        layout.addWidget(self._build_display_box())
        layout.addStretch(1)
        self.set_settings(state.settings)

        state.run_changed.connect(self._on_state_run_changed)
        state.settings_changed.connect(self._on_state_settings_changed)
        state.result_changed.connect(self._on_state_result_changed)
        state.running_changed.connect(self._on_state_running_changed)
        state.epoch_changed.connect(self._on_state_epoch_changed)
        state.focus_changed.connect(self._on_state_focus_changed)
        state.selection_changed.connect(self._on_state_selection_changed)
        self._on_state_run_changed()

    # -- building ------------------------------------------------------------------------
    def _build_estimator_box(self) -> QGroupBox:
        box = QGroupBox("Information plane estimator", self)
        form = QFormLayout(box)
        self.estimator = _combo(box, ESTIMATORS, "How I(X;T) and I(T;Y) are estimated")
        self.n_bins = QSpinBox(box)
        self.n_bins.setRange(2, 10_000)
        self.n_bins.setToolTip("Number of bin edges: more bins resolve more, and push I(X;T) towards log2(N)")
        self.use_bin_width = QCheckBox("bin width", box)
        self.bin_width = QDoubleSpinBox(box)
        self.bin_width.setDecimals(4)
        self.bin_width.setRange(1e-4, 100.0)
        self.bin_width.setSingleStep(0.01)
        self.bin_width.setValue(0.07)
        width_row = QHBoxLayout()
        width_row.addWidget(self.use_bin_width)
        width_row.addWidget(self.bin_width, 1)
        self.range_mode = _combo(
            box, RANGE_MODES, "Bin range: auto ([-1, 1] for layers inside it, else the layer's own), fixed, or each layer's own"
        )
        self.noise_var = QDoubleSpinBox(box)
        self.noise_var.setDecimals(6)
        self.noise_var.setRange(1e-6, 100.0)
        self.noise_var.setSingleStep(1e-3)
        self.noise_var.setToolTip("Variance of the Gaussian noise added to T: the resolution at which samples differ")
        self.kde_band = QCheckBox("show the lower..upper bound band", box)
        self._build_renyi_controls(box)
        self.scheduler = QLineEdit(box)
        self.scheduler.setPlaceholderText("this computer")
        self.scheduler.setClearButtonEnabled(True)
        self.scheduler.setToolTip(f"Where the plane and probes are computed: empty for this computer, or {SCHEDULER_HELP}")
        self.scheduler.editingFinished.connect(self._on_scheduler_editing_finished)
        form.addRow("estimator", self.estimator)
        form.addRow("bins", self.n_bins)
        form.addRow("", width_row)
        form.addRow("range", self.range_mode)
        form.addRow("noise variance", self.noise_var)
        form.addRow("kde", self.kde_band)
        fixed_width_row = QHBoxLayout()
        fixed_width_row.addWidget(self.use_kernel_width)
        fixed_width_row.addWidget(self.kernel_width, 1)
        form.addRow("alpha", self.alpha)
        form.addRow("kernel width", self.width_rule)
        form.addRow("width factor", self.width_factor)
        form.addRow("", fixed_width_row)
        form.addRow("feature maps", self.conv_kernel)
        form.addRow("run on", self.scheduler)
        for widget in (self.estimator, self.range_mode, self.width_rule, self.conv_kernel):
            widget.currentIndexChanged.connect(self._on_control_changed)
        for widget in (self.n_bins, self.bin_width, self.noise_var, self.alpha, self.width_factor, self.kernel_width):
            widget.valueChanged.connect(self._on_control_changed)
        for widget in (self.use_bin_width, self.kde_band, self.use_kernel_width):
            widget.toggled.connect(self._on_control_changed)
        return box

    def _build_renyi_controls(self, box: QGroupBox) -> None:
        self.alpha = QDoubleSpinBox(box)
        self.alpha.setDecimals(3)
        self.alpha.setRange(0.01, 20.0)
        self.alpha.setSingleStep(0.1)
        self.alpha.setToolTip("renyi: order of the entropy; 2 needs no eigendecomposition, near 1 approaches Shannon's")
        self.width_rule = _combo(box, WIDTH_RULES, "renyi: the kernel width of each layer and epoch, a rule of thumb")
        self.width_factor = QDoubleSpinBox(box)
        self.width_factor.setDecimals(3)
        self.width_factor.setRange(0.0, 100.0)
        self.width_factor.setSingleStep(0.05)
        self.width_factor.setSpecialValueText("rule's default")  # 0: None, the rule's own factor
        self.width_factor.setToolTip("renyi: multiple of the width rule; wider kernels merge more samples, lowering I(X;T)")
        self.use_kernel_width = QCheckBox("fixed width", box)
        self.use_kernel_width.setToolTip("renyi: one kernel width for every layer and the inputs, in their units")
        self.kernel_width = QDoubleSpinBox(box)
        self.kernel_width.setDecimals(4)
        self.kernel_width.setRange(1e-4, 1e4)
        self.kernel_width.setSingleStep(0.1)
        self.kernel_width.setValue(1.0)
        self.conv_kernel = _combo(box, CONV_KERNELS, "renyi: how convolutional feature maps get a kernel")

    def _build_sensitivity_box(self) -> QGroupBox:
        box = QGroupBox("Sensitivity to the estimator", self)
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("layer", box))
        self.sensitivity_layer = QComboBox(box)
        self.sensitivity_layer.setToolTip("Layer whose I(X;T) and I(T;Y) are swept (follows the clicked sample's layer)")
        self.sensitivity_layer.currentIndexChanged.connect(self._on_sensitivity_layer_changed)
        row.addWidget(self.sensitivity_layer, 1)
        self.sweep_button = QPushButton("Sweep", box)
        self.sweep_button.setToolTip(
            "Estimate this layer at many bin counts (noise variances for kde, kernel widths for renyi), in the background"
        )
        self.sweep_button.clicked.connect(self.request_sensitivity)
        row.addWidget(self.sweep_button)
        column.addLayout(row)
        self.sensitivity_plot = pg.PlotWidget(box)
        self.sensitivity_plot.setMinimumHeight(150)
        self.sensitivity_plot.setMenuEnabled(False)
        self.sensitivity_plot.hideButtons()
        self.sensitivity_plot.setLabel("left", "bits")
        self.sensitivity_plot.showGrid(x=True, y=True, alpha=0.2)
        self.sensitivity_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.i_xt_curve = self.sensitivity_plot.plot(
            pen=make_pen(QColor("#1f77b4"), 1.8), symbol="o", symbolSize=5, symbolBrush="#1f77b4", name="I(X;T)"
        )
        self.i_ty_curve = self.sensitivity_plot.plot(
            pen=make_pen(QColor("#d62728"), 1.8), symbol="s", symbolSize=5, symbolBrush="#d62728", name="I(T;Y)"
        )
        self.current_marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#2ca02c", width=1.5))
        self.sensitivity_plot.addItem(self.current_marker, ignoreBounds=True)
        self.log2_n_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#707070", style=Qt.PenStyle.DashLine))
        self.sensitivity_plot.addItem(self.log2_n_line, ignoreBounds=True)
        column.addWidget(self.sensitivity_plot)
        self.sensitivity_note = QLabel("", box)
        self.sensitivity_note.setWordWrap(True)
        self.sensitivity_note.setStyleSheet("color: #505050;")
        column.addWidget(self.sensitivity_note)
        return box

    def _build_embedding_box(self) -> QGroupBox:
        box = QGroupBox("Embeddings", self)
        form = QFormLayout(box)
        self.method = _combo(box, METHODS, "Method of the per-layer embeddings")
        self.dims = _combo(box, {2: "2D", 3: "3D"}, "2D panels or rotatable 3D panels")
        self.perplexity = QDoubleSpinBox(box)
        self.perplexity.setRange(2.0, 500.0)
        self.perplexity.setDecimals(1)
        self.perplexity.setToolTip("t-SNE perplexity: roughly the number of neighbours each point keeps")
        self.n_neighbors = QSpinBox(box)
        self.n_neighbors.setRange(2, 500)
        self.n_neighbors.setToolTip("UMAP n_neighbors: local (small) or global (large) structure")
        self.seed = QSpinBox(box)
        self.seed.setRange(0, 2**31 - 1)
        self.alignment = _combo(
            box, ALIGNMENTS, "How panels are aligned across layers and epochs (see docs/embeddings.md)"
        )
        self.preprocessing = _combo(box, PREPROCESSINGS, "Applied to each layer before embedding")
        self.pca_before = QComboBox(box)
        for title, value in PCA_BEFORE_CHOICES:
            self.pca_before.addItem(title, value)
        self.pca_before.setToolTip("PCA before t-SNE/UMAP: fewer dimensions, faster affinities (docs/embeddings.md)")
        form.addRow("method", self.method)
        form.addRow("dims", self.dims)
        form.addRow("perplexity", self.perplexity)
        form.addRow("n_neighbors", self.n_neighbors)
        form.addRow("seed", self.seed)
        form.addRow("alignment", self.alignment)
        form.addRow("preprocessing", self.preprocessing)
        form.addRow("PCA first", self.pca_before)
        for widget in (self.method, self.dims, self.alignment, self.preprocessing):
            widget.currentIndexChanged.connect(self._on_control_changed)
        for widget in (self.perplexity, self.n_neighbors, self.seed):
            widget.valueChanged.connect(self._on_control_changed)
        self.pca_before.currentIndexChanged.connect(self._on_control_changed)
        return box

    def _build_display_box(self) -> QGroupBox:
        box = QGroupBox("Display", self)
        form = QFormLayout(box)
        self.color_by = _combo(box, COLOR_MODES, "What the point colours show")
        self.color_by.currentIndexChanged.connect(self._on_control_changed)
        self.search = QLineEdit(box)
        self.search.setPlaceholderText("regex over words / labels, e.g. ^(big|large)$")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search_status = QLabel("", box)
        self.search_status.setStyleSheet("color: #505050;")
        form.addRow("colour by", self.color_by)
        form.addRow("search", self.search)
        form.addRow("", self.search_status)
        return box

    # -- settings ------------------------------------------------------------------------
    def settings(self) -> AnalysisSettings:
        """The settings the controls show now (the last valid ones if the controls disagree)."""
        try:
            return self._read_controls()
        except IBViewerError:
            return self.state.settings

    def _read_controls(self) -> AnalysisSettings:
        method = self.method.currentData()
        alignment = self.alignment.currentData()
        # fields this panel does not show (neighbour k and metric, the binning range) keep their values
        return self.state.settings.with_changes(
            estimator=self.estimator.currentData(),
            n_bins=int(self.n_bins.value()),
            bin_width=float(self.bin_width.value()) if self.use_bin_width.isChecked() else None,
            range_mode=self.range_mode.currentData(),
            noise_var=float(self.noise_var.value()),
            kde_band=self.kde_band.isChecked(),
            alpha=float(self.alpha.value()),
            width_rule=self.width_rule.currentData(),
            width_factor=float(self.width_factor.value()) or None,
            kernel_width=float(self.kernel_width.value()) if self.use_kernel_width.isChecked() else None,
            conv_kernel=self.conv_kernel.currentData(),
            method=method,
            dims=int(self.dims.currentData()),
            perplexity=float(self.perplexity.value()),
            n_neighbors=int(self.n_neighbors.value()),
            seed=int(self.seed.value()),
            alignment=alignment,
            preprocessing=self.preprocessing.currentData(),
            pca_dims=self.pca_before.currentData(),
            color_by=self.color_by.currentData(),
            search=self.search.text(),
        )

    def _set_pca_before(self, pca_dims: int | str | None) -> None:
        index = self.pca_before.findData(pca_dims)
        if index < 0:  # another number of dimensions (a session, the command line): shown as its own choice
            self.pca_before.addItem(f"to {pca_dims} dimensions", pca_dims)
            index = self.pca_before.count() - 1
        self.pca_before.setCurrentIndex(index)

    def set_settings(self, settings: AnalysisSettings) -> None:
        """Show ``settings`` in the controls without emitting ``settings_edited``."""
        self._updating = True
        try:
            _set_combo(self.estimator, settings.estimator)
            self.n_bins.setValue(settings.n_bins)
            self.use_bin_width.setChecked(settings.bin_width is not None)
            if settings.bin_width is not None:
                self.bin_width.setValue(settings.bin_width)
            _set_combo(self.range_mode, settings.range_mode)
            self.noise_var.setValue(settings.noise_var)
            self.kde_band.setChecked(settings.kde_band)
            self.alpha.setValue(settings.alpha)
            _set_combo(self.width_rule, settings.width_rule)
            self.width_factor.setValue(settings.width_factor or 0.0)
            self.use_kernel_width.setChecked(settings.kernel_width is not None)
            if settings.kernel_width is not None:
                self.kernel_width.setValue(settings.kernel_width)
            _set_combo(self.conv_kernel, settings.conv_kernel)
            _set_combo(self.method, settings.method)
            _set_combo(self.dims, settings.dims)
            self.perplexity.setValue(settings.perplexity)
            self.n_neighbors.setValue(settings.n_neighbors)
            self.seed.setValue(settings.seed)
            _set_combo(self.alignment, settings.alignment)
            _set_combo(self.preprocessing, settings.preprocessing)
            self._set_pca_before(settings.pca_dims)
            _set_combo(self.color_by, settings.color_by)
            self.search.blockSignals(True)
            self.search.setText(settings.search)
            self.search.blockSignals(False)
        finally:
            self._updating = False
        self._debounce.stop()
        self._update_enabled()

    def flush(self) -> None:
        """Emit a pending edit now instead of after the debounce delay."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._on_debounce_timeout()

    def _update_enabled(self) -> None:
        estimator = self.estimator.currentData()
        binned = estimator in ("binning", "adaptive")
        self.n_bins.setEnabled(binned and not (estimator == "binning" and self.use_bin_width.isChecked()))
        self.use_bin_width.setEnabled(estimator == "binning")
        self.bin_width.setEnabled(estimator == "binning" and self.use_bin_width.isChecked())
        self.range_mode.setEnabled(estimator == "binning")
        self.noise_var.setEnabled(estimator == "kde")
        self.kde_band.setEnabled(estimator == "kde")
        renyi, fixed = estimator == "renyi", self.use_kernel_width.isChecked()
        for widget in (self.alpha, self.use_kernel_width, self.conv_kernel):
            widget.setEnabled(renyi)
        self.kernel_width.setEnabled(renyi and fixed)
        self.width_rule.setEnabled(renyi and not fixed)
        self.width_factor.setEnabled(renyi and not fixed)
        method = self.method.currentData()
        self.perplexity.setEnabled(method == "tsne")
        self.n_neighbors.setEnabled(method == "umap")
        self.pca_before.setEnabled(method != "pca")
        # AlignedUMAP exists for UMAP only: offer it only then
        model = self.alignment.model()
        item = model.item(self.alignment.findData("aligned_umap"))
        if item is not None:
            item.setEnabled(method == "umap")
        if method != "umap" and self.alignment.currentData() == "aligned_umap":
            _set_combo(self.alignment, "init")

    # -- slots -------------------------------------------------------------------------
    def _on_control_changed(self, *_args: Any) -> None:
        if self._updating:
            return
        self._update_enabled()
        self._debounce.start()

    def _on_debounce_timeout(self) -> None:
        try:
            new = self._read_controls()
        except IBViewerError as exc:
            self.sensitivity_note.setText(f"<span style='color:#b00000'>{exc}</span>")
            return
        old = self.state.settings
        if new == old:
            return
        self.settings_edited.emit(new)
        if (old.estimator, old.estimator_params()) != (new.estimator, new.estimator_params()):
            self._update_marker()
            if _sweep_key(old) != _sweep_key(new):
                self._schedule_sweep()

    def _on_scheduler_editing_finished(self) -> None:
        text = self.scheduler.text().strip()
        try:
            if text:
                parse_scheduler(text)
        except IBViewerError as exc:
            self.scheduler.setStyleSheet("border: 1px solid #c00000;")
            self.sensitivity_note.setText(f"<span style='color:#b00000'>{exc}</span>")
            return
        self.scheduler.setStyleSheet("")
        if (text or None) != self._scheduler:
            self._scheduler = text or None
            self.scheduler_edited.emit(self._scheduler)

    def set_scheduler(self, scheduler: str | None) -> None:
        """Show where analyses run (None: this computer) without emitting ``scheduler_edited``."""
        self._scheduler = scheduler
        self.scheduler.setText(scheduler or "")
        self.scheduler.setStyleSheet("")

    def _on_search_text_changed(self, text: str) -> None:
        self._search_timer.start()

    def apply_search(self) -> None:
        """Select the samples matching the search pattern (clears a selection the search made)."""
        self._search_timer.stop()
        pattern = self.search.text()
        state = self.state
        if state.activations is None:
            return
        try:
            rows = state.rows_matching(pattern)
        except IBViewerError as exc:
            self.search.setStyleSheet("border: 1px solid #c00000;")
            self.search_status.setText(str(exc))
            return
        self.search.setStyleSheet("")
        if not pattern:
            self.search_status.setText("")
            if self._search_selected:
                self._search_selected = False
                state.set_selection([])
        else:
            self.search_status.setText(f"{rows.size} of {state.n_samples} samples match")
            self._search_selected = True
            state.set_focus(None)
            state.set_selection(rows)
        self._on_control_changed()

    def request_sensitivity(self) -> None:
        """Ask for a sweep of the estimator's resolution for the chosen layer at the current epoch."""
        self._sensitivity_timer.stop()
        state = self.state
        layer = self.sensitivity_layer.currentData()
        if state.activations is None or layer is None or state.epoch is None:
            return
        self.auto_sweep = True
        self._requested = (layer, state.epoch)
        self.sensitivity_requested.emit(layer, self.settings())
        self._update_note()

    def _draw_sensitivity(self) -> None:
        result = self.state.sensitivity
        if result is None:
            self.i_xt_curve.setData([], [])
            self.i_ty_curve.setData([], [])
        else:
            name, log_x = SWEPT[result.parameter]
            self.sensitivity_plot.setLogMode(x=log_x, y=False)
            self.sensitivity_plot.setLabel("bottom", name)
            self.i_xt_curve.setData(result.values, result.i_xt)
            self.i_ty_curve.setData(result.values, result.i_ty)
            self.log2_n_line.setValue(result.log2_n)
        self._update_marker()
        self._update_note()

    def _update_note(self) -> None:
        state, result = self.state, self.state.sensitivity
        if "sensitivity" in state.running and self._requested is not None:
            layer, epoch = self._requested
            self.sensitivity_note.setText(f"Computing {layer} at epoch {epoch}…")
        elif result is not None:
            name = SWEPT[result.parameter][0]
            n_saturated = int(result.saturated.sum())
            at_ceiling = (
                f" I(X;T) reaches log2(N) = {result.log2_n:.2f} bits at {n_saturated} of {len(result.values)} settings."
                if n_saturated
                else ""
            )
            self.sensitivity_note.setText(
                f"<b>{result.layer}</b>, epoch {result.epoch}, {result.estimator}: the plane's values depend on the "
                f"{name}.{at_ceiling}"
            )
        elif state.activations is not None:
            self.sensitivity_note.setText(
                "Sweep shows how this layer's estimate depends on the bin count (noise variance, kernel width)."
            )
        else:
            self.sensitivity_note.setText("")

    def _update_marker(self) -> None:
        settings = self.state.settings
        result = self.state.sensitivity
        if result is None:
            self.current_marker.setVisible(False)
            return
        value, visible = _current_value(settings, result)
        if SWEPT[result.parameter][1]:
            value = float(np.log10(value))
        self.current_marker.setValue(value)
        self.current_marker.setVisible(visible)

    def _schedule_sweep(self) -> None:
        if self.auto_sweep:
            self._sensitivity_timer.start()

    def _on_sensitivity_layer_changed(self, index: int) -> None:
        if not self._updating:
            self._schedule_sweep()

    def _on_state_run_changed(self) -> None:
        self._updating = True
        try:
            self.sensitivity_layer.clear()
            for name in self.state.layer_names:
                self.sensitivity_layer.addItem(name, name)
            if self.state.layer_names:
                self.sensitivity_layer.setCurrentIndex(len(self.state.layer_names) - 1)
        finally:
            self._updating = False
        self._search_selected = False
        self._requested = None
        self.auto_sweep = False  # not during the first analysis of a run: the user asks with Sweep
        self._draw_sensitivity()
        if self.state.activations is not None and self.search.text():
            self._search_timer.start()

    def _on_state_settings_changed(self) -> None:
        if not self._debounce.isActive() and self.settings() != self.state.settings:
            self.set_settings(self.state.settings)  # changed elsewhere (a menu, a session)
        self._update_marker()

    def _on_state_result_changed(self, what: str) -> None:
        if what == "sensitivity":
            self._draw_sensitivity()

    def _on_state_running_changed(self) -> None:
        self._update_note()

    def _on_state_epoch_changed(self, epoch: int) -> None:
        self._schedule_sweep()

    def _on_state_focus_changed(self) -> None:
        focus = self.state.focus
        if focus is not None and focus.layer != self.sensitivity_layer.currentData():
            _set_combo(self.sensitivity_layer, focus.layer)  # restarts the sweep through the index change

    def _on_state_selection_changed(self) -> None:
        if self._search_selected and self.state.selection.size == 0:
            self._search_selected = False
