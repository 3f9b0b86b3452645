"""Information-plane figures: valid PNG, SVG and PDF files, titled with the estimator; bad requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ibviewer.core.information import compute_information_plane
from ibviewer.errors import IBViewerError
from tests.core.information.data import make_acts


@pytest.mark.parametrize("estimator, params", [("binning", {}), ("kde", {"noise_var": 0.05})])
def test_figure_files_are_valid(rng, tmp_path, estimator, params):
    from ibviewer.core.infoplane_figure import plot_information_plane

    acts = make_acts(rng, n_samples=120)
    plane = compute_information_plane(acts, estimator, use_cache=False, **params)
    paths = [tmp_path / "fig" / "plane.png", tmp_path / "plane.svg", tmp_path / "plane.pdf"]
    written = plot_information_plane(plane, paths, highlight_epoch=5)
    assert written == paths
    png = paths[0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(paths[0])
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600 and pixels.std() > 0.05  # drawn, not blank
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg")
    assert plane.label() in paths[1].read_text()  # the title, in the SVG metadata
    pdf = paths[2].read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_figure_rejects_bad_requests(rng, tmp_path):
    from ibviewer.core.infoplane_figure import plot_information_plane

    plane = compute_information_plane(make_acts(rng), "binning", n_bins=4, use_cache=False)
    with pytest.raises(IBViewerError, match="use one of .png, .svg, .pdf"):
        plot_information_plane(plane, [tmp_path / "plane.bmp"])
    with pytest.raises(IBViewerError, match="Epoch 7 is not in the information plane"):
        plot_information_plane(plane, [tmp_path / "plane.png"], highlight_epoch=7)
    assert not (tmp_path / "plane.png").exists()


def test_the_figure_shows_the_chain_the_null_band_and_the_flags():
    import matplotlib
    import numpy as np

    from ibviewer.core.infoplane_figure import _draw, chain_caption
    from ibviewer.core.types import ActivationSet, LayerInfo
    from ibviewer.core.writers import PLAIN_TEXT

    rng = np.random.default_rng(0)
    n = 600
    labels = rng.integers(0, 2, n)
    values = {
        "blind": (rng.integers(0, 2, (n, 1)) * 0.5)[None],  # knows nothing of the label ...
        "knows": (labels[:, None] * 0.5)[None],  # ... then a deeper layer knows it: a DPI violation
        "unique": rng.uniform(-1, 1, (1, n, 12)),  # every sample its own bin: at the ceiling
    }
    layers = tuple(LayerInfo(name, "Tanh", (v.shape[-1],), v.shape[-1]) for name, v in values.items())
    acts = ActivationSet(layers, (0,), {k: v.astype(np.float32) for k, v in values.items()}, labels, np.arange(n), key="fig")
    with pytest.warns(UserWarning, match="ceiling"):
        plane = compute_information_plane(acts, "binning", use_cache=False)
    with matplotlib.rc_context(PLAIN_TEXT):
        figure = _draw(plane, None, {"knows": "knows (Tanh)"}, "")
    axes = figure.axes[0]
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend[:3] == ["T1: blind", "T2: knows (Tanh)", "T3: unique"]  # chain order
    assert "shuffled labels (null ± 2 sd)" in legend and "within 1 bit of log2(N)" in legend
    assert "I(T;Y) above an earlier layer's" in legend
    assert axes.get_legend().get_title().get_text() == "Layers, X → T1 → … → Ŷ"
    caption = chain_caption(plane.layers, {"knows": "knows (Tanh)"})
    assert caption.startswith("X → blind → knows (Tanh) → unique → Ŷ:") and "data-processing inequality" in caption
    assert figure._supxlabel.get_text() == caption.replace(": ", ":\n", 1)  # under the axes, two lines
    # the null band: one grey polygon per epoch spanning the null's mean ± 2 sd
    bands = [c for c in axes.collections if type(c).__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert len(bands) == 1
    ys = bands[0].get_paths()[0].vertices[:, 1]
    top = plane.i_ty_null[0] + 2 * plane.i_ty_null_sd[0]
    assert ys.max() == pytest.approx(top.max())
