"""User-facing exceptions: an IBViewerError means "expected, explain it"."""

from __future__ import annotations


class IBViewerError(Exception):
    """An expected failure whose message says what went wrong and what to do."""


class CheckpointLoadError(IBViewerError):
    """A checkpoint file could not be read safely."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint needs arbitrary unpickling, which is refused by default."""


class ModelMismatchError(IBViewerError):
    """Weights, model and dataset do not fit together."""


class ModelFactoryError(IBViewerError):
    """A `--model MODULE:CALLABLE` spec could not be imported or called."""


class DatasetError(IBViewerError):
    """A dataset spec or file is invalid."""


class RunFormatError(IBViewerError):
    """A run folder or manifest is invalid."""


class ActivationError(IBViewerError):
    """Extracted or loaded activations are unusable (NaN, inf, wrong shape)."""


class EstimatorError(IBViewerError):
    """Invalid input or settings for an estimator."""


class Cancelled(Exception):
    """Raised by `Progress.check_cancelled` when the user asked to stop.

    Not an IBViewerError: cancellation is not a failure and is never shown as one.
    """
