"""Choosing the torch device for extraction and estimators, with one clear error wording."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibviewer.errors import IBViewerError

if TYPE_CHECKING:
    import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | None, error: type[IBViewerError] = IBViewerError) -> torch.device:
    """The torch device for ``device`` ("cpu", "cuda", "cuda:1"); None picks CUDA when available.

    Raises
    ------
    IBViewerError (or ``error``)
        An unknown device name, or CUDA asked for where none is available.
    """
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise error(f"{device!r} is not a torch device ({exc}); use cpu, cuda or cuda:N.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise error(f"Device {device!r} was asked for, but no CUDA GPU is available here; use cpu.")
    return resolved
