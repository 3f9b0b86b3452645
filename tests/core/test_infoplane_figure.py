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
