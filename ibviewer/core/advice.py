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

    Today: layers whose I(X;T) sits at the ceiling log2(N) in some epoch (``plane.saturated``),
    with the wide-layer estimator as the fix when another estimator was used.
    """
    advice: list[Advice] = []
    if plane.saturated is not None and plane.saturated.any():
        layers = [name for k, name in enumerate(plane.layers) if plane.saturated[:, k].any()]
        shown = ", ".join(layers[:4]) + (" ..." if len(layers) > 4 else "")
        message = (
            f"I(X;T) sits at its ceiling log2(N) = {plane.log2_n:.2f} bits in {shown}: every sample is resolved on "
            "its own, so these points say nothing about compression."
        )
        if settings.estimator != WIDE_LAYER_ESTIMATOR:
            advice.append(Advice(message, "Use the Rényi estimator (made for wide layers)", {"estimator": WIDE_LAYER_ESTIMATOR}))
        else:
            advice.append(Advice(message))
    return advice
