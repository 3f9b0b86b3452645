"""Advice about a result, with the settings change that acts on it: what the GUI offers as one click.

Warnings raised while computing are text (they travel through ``warnings`` and caches as
strings); advice is derived from a result's structured flags instead (a plane's ``saturated``
cells, ...), never by matching warning text. Each :class:`Advice` says what is wrong in the
GUI's words and, when a setting fixes it, the :class:`~ibviewer.core.config.AnalysisSettings`
fields to change. The GUI's warnings panel shows one button per advice with ``changes``; the
CLI prints ``message`` only.

Pure core: no Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ibviewer.core.information.registry import WIDE_LAYER_ESTIMATOR

if TYPE_CHECKING:
    from ibviewer.core.config import AnalysisSettings
    from ibviewer.core.information import InformationPlane

__all__ = ["Advice", "plane_advice"]


@dataclass(frozen=True)
class Advice:
    """One thing a user should know about a result, and how to act on it.

    Parameters
    ----------
    message : str
        What is wrong, in the GUI's words (no command-line flags).
    action : str
        The button's text (e.g. "Use the Rényi estimator"); empty when no setting fixes it.
    changes : mapping
        ``AnalysisSettings`` fields and their new values; empty when no setting fixes it.
    """

    message: str
    action: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, settings: AnalysisSettings) -> AnalysisSettings:
        """``settings`` with this advice's changes (unchanged when it has none)."""
        return settings.with_changes(**dict(self.changes)) if self.changes else settings


def plane_advice(plane: InformationPlane, settings: AnalysisSettings) -> list[Advice]:
    """Advice about an information plane computed with ``settings``, from its flags.

    - layers at or near the ceiling log2(N) in some epoch (``plane.near_ceiling``, which holds
      ``plane.saturated``): the wide-layer estimator as the fix when another estimator was used;
    - binned values outside a fixed range (``out_of_range``): each layer's own range as the fix;
    - I(T;Y) rising with depth beyond the noise (``plane.dpi_violation``): information only,
      no setting makes an estimate obey the data-processing inequality.
    """
    advice: list[Advice] = []
    near = plane.near_ceiling
    if near.any():
        layers = [name for k, name in enumerate(plane.layers) if near[:, k].any()]
        message = (
            f"I(X;T) sits at or within 1 bit of its ceiling log2(N) = {plane.log2_n:.2f} bits in {_names(layers)}: "
            "fewer than two samples share a state on average, so every sample is almost resolved on its own and "
            "these points say nothing about compression; their I(T;Y) is no higher than with shuffled labels "
            "(the grey band)."
        )
        if settings.estimator != WIDE_LAYER_ESTIMATOR:
            advice.append(Advice(message, "Use the Rényi estimator (made for wide layers)", {"estimator": WIDE_LAYER_ESTIMATOR}))
        else:
            advice.append(Advice(message))
    outside = plane.cell_outputs.get("out_of_range")
    if outside is not None and settings.estimator == "binning" and settings.range_mode == "fixed" and outside.any():
        layers = [name for k, name in enumerate(plane.layers) if outside[:, k].any()]
        low, high = settings.bin_range
        message = (
            f"{_names(layers)} {'has' if len(layers) == 1 else 'have'} values outside the fixed range "
            f"[{low:g}, {high:g}]: they all share the end bins, which looks like compression but is not."
        )
        advice.append(Advice(message, "Bin each layer over its own range", {"range_mode": "auto"}))
    dpi = plane.dpi_violation
    if dpi.any():
        layers = [name for k, name in enumerate(plane.layers) if dpi[:, k].any()]
        advice.append(Advice(
            f"I(T;Y) of {_names(layers)} exceeds that of an earlier layer by more than the estimator's noise in "
            f"{int(dpi.any(axis=1).sum())} of {len(plane.epochs)} epochs. A network is a chain X → T1 → T2 → … → Ŷ, "
            "so a deeper layer cannot know more about the label (data-processing inequality): the estimator "
            "resolves these layers differently, so compare their positions with care."
        ))  # fmt: skip
    return advice


def _names(layers: list[str]) -> str:
    return ", ".join(layers[:4]) + (" ..." if len(layers) > 4 else "")
