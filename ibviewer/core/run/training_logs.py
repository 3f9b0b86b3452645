"""What training libraries log beside their checkpoints, turned into per-epoch metrics.

- transformers' ``trainer_state.json``: ``epoch``, ``global_step`` and ``log_history``, a
  list of logged dicts (``{"loss": ..., "step": 8}``, ``{"eval_loss": ..., "step": 8}``);
- Lightning's ``metrics.csv`` (``CSVLogger``): one row per logging call, columns ``epoch``,
  ``step`` and one per metric, blank where a row did not log it;
- Lightning's ``hparams.yaml``: read as flat ``key: value`` lines only (no YAML library, no
  tags, nothing executed); nested values are left out.

The metrics of a checkpoint are, per metric, the last value logged up to it. Parsing only:
the files are read through :mod:`ibviewer.core.run.files`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibviewer.errors import RunFormatError

__all__ = [
    "TrainerState",
    "parse_trainer_state",
    "metrics_up_to",
    "parse_metrics_csv",
    "parse_flat_yaml",
    "distinct_numbers",
]

#: Logged values that describe the logging itself, not the model (runtime, throughput, counters).
_NOT_METRICS = re.compile(r"^(epoch|step|total_flos)$|(_runtime|_per_second)$")


@dataclass(frozen=True)
class TrainerState:
    """The parts of a ``trainer_state.json`` ibviewer uses."""

    epoch: float | None
    global_step: int | None
    log_history: tuple[Mapping[str, Any], ...]


def parse_trainer_state(data: object, where: Path) -> TrainerState:
    """Check a decoded ``trainer_state.json``.

    Raises
    ------
    RunFormatError
        Not a JSON object, or ``log_history`` not a list.
    """
    if not isinstance(data, dict):
        raise RunFormatError(f"{where} is not a transformers trainer state (a JSON object with 'global_step').")
    history = data.get("log_history", [])
    if not isinstance(history, list):
        raise RunFormatError(f"{where}: 'log_history' must be a list, got {type(history).__name__}.")
    epoch = _number(data.get("epoch"))
    step = data.get("global_step")
    return TrainerState(
        epoch=epoch,
        global_step=int(step) if isinstance(step, int) and not isinstance(step, bool) else None,
        log_history=tuple(entry for entry in history if isinstance(entry, dict)),
    )


def metrics_up_to(rows: Iterable[Mapping[str, Any]], step: int | None = None, epoch: float | None = None) -> dict[str, float]:
    """Per metric, the last finite value logged at or before ``step`` (and ``epoch``), in row order.

    Rows without a step (or epoch) count as logged before any limit. Bookkeeping keys
    (``epoch``, ``step``, runtimes, throughputs, ``total_flos``) are left out.
    """
    metrics: dict[str, float] = {}
    for row in rows:
        row_step, row_epoch = _number(row.get("step")), _number(row.get("epoch"))
        if step is not None and row_step is not None and row_step > step:
            continue
        if epoch is not None and row_epoch is not None and row_epoch > epoch:
            continue
        for key, value in row.items():
            number = _number(value)
            if number is not None and not _NOT_METRICS.search(str(key)):
                metrics[str(key)] = number
    return metrics


def parse_metrics_csv(text: str, where: Path) -> list[dict[str, float]]:
    """The rows of a Lightning ``metrics.csv``: each a dict of the numbers it holds (blanks left out).

    Raises
    ------
    RunFormatError
        No header row.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise RunFormatError(f"{where} has no header row; expected Lightning's CSVLogger metrics (epoch, step, ...).")
    rows = []
    for raw in reader:
        row = {}
        for key, value in raw.items():
            number = _number(value)
            if key is not None and number is not None:
                row[key] = number
        rows.append(row)
    return rows


def parse_flat_yaml(text: str) -> dict[str, Any]:
    """Top-level ``key: value`` pairs of a YAML file whose values are plain scalars.

    Numbers, ``true``/``false``, ``null`` and (quoted) strings are read; keys whose value is a
    nested block, a list, a flow collection or a tagged object (``!!python/...``) are left out.
    Nothing is ever evaluated or imported.
    """
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t-":
            continue
        key, sep, rest = line.partition(":")
        rest = rest.strip()
        if not sep or not key.strip() or not rest or rest[0] in "!&*[{|>" or rest.startswith("- "):
            continue
        values[key.strip().strip("'\"")] = _scalar(rest)
    return values


def _scalar(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    text = text.split(" #", 1)[0].strip()
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("null", "~", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _number(value: object) -> float | None:
    """A finite float from a number or numeric text, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def distinct_numbers(values: Sequence[float | None]) -> list[int] | None:
    """``values`` as ints when all are whole, known and distinct, else None."""
    if any(v is None or float(v) != int(v) for v in values):
        return None
    numbers = [int(v) for v in values]  # type: ignore[arg-type]
    return numbers if len(set(numbers)) == len(numbers) else None
