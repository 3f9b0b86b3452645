"""User-facing exceptions: an IBViewerError means "expected, explain it"."""

from __future__ import annotations


class IBViewerError(Exception):
    """An expected failure whose message says what went wrong and what to do."""


class CheckpointLoadError(IBViewerError):
    """A checkpoint file could not be read safely."""


class ConsentRequired(IBViewerError):
    """Opening would run code that came with the input; it needs the user's explicit consent.

    ``reason`` says what would run, in words fit for any front end; ``option`` is the
    command-line flag that gives consent (the message ends by naming it). A window shows
    ``reason`` with its own way of consenting and retries with consent given.
    """

    def __init__(self, reason: str, option: str, remedy: str = "") -> None:
        self.reason = reason
        self.option = option
        super().__init__(f"{reason} {remedy}".rstrip() + f" Only if you trust it, pass {option}.")


class UnsafeCheckpointError(CheckpointLoadError, ConsentRequired):
    """A checkpoint or program needs arbitrary unpickling, which is refused unless the user trusts the file.

    ``path`` is the file; consent is ``trust_pickle=True`` (``--trust-pickle``).
    """

    def __init__(self, path: str, reason: str, remedy: str = "") -> None:
        self.path = path
        ConsentRequired.__init__(self, reason, "--trust-pickle", remedy)


class FactoryConsentRequired(ConsentRequired):
    """A run folder or session names a model factory outside ``ibviewer.models``.

    ``factory`` (a :class:`ibviewer.core.run.files.FactoryCall`) says exactly what would be
    imported and called; consent is ``trust_factory=True`` (``--trust-factory``) or naming
    the factory yourself (``--model``).
    """

    def __init__(self, factory: object, reason: str) -> None:
        self.factory = factory
        super().__init__(reason, "--trust-factory", "Check what it does first.")


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
