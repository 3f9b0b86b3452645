"""Reading what training libraries log: trainer_state log_history, metrics.csv, flat hparams.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibviewer.core.run.training_logs import (
    distinct_numbers,
    metrics_up_to,
    parse_flat_yaml,
    parse_metrics_csv,
    parse_trainer_state,
)
from ibviewer.errors import RunFormatError

WHERE = Path("x")


def test_metrics_are_the_last_values_logged_up_to_a_step():
    history = [
        {"epoch": 0.5, "loss": 0.9, "learning_rate": 1e-3, "step": 2},
        {"epoch": 1.0, "loss": 0.7, "step": 4},
        {"epoch": 1.0, "eval_loss": 0.8, "eval_runtime": 3.2, "eval_samples_per_second": 19.5, "step": 4},
        {"epoch": 1.5, "loss": 0.5, "step": 6},
    ]
    assert metrics_up_to(history, step=4) == {"loss": 0.7, "learning_rate": 1e-3, "eval_loss": 0.8}
    assert metrics_up_to(history, step=6)["loss"] == 0.5
    state = parse_trainer_state({"epoch": 1.0, "global_step": 4, "log_history": history}, WHERE)
    assert (state.epoch, state.global_step, len(state.log_history)) == (1.0, 4, 4)
    with pytest.raises(RunFormatError, match="log_history"):
        parse_trainer_state({"log_history": {}}, WHERE)


def test_lightning_metrics_csv_rows_keep_their_numbers_and_step_metrics():
    text = "epoch,step,train_loss_epoch,train_loss_step,val_acc\n0,1,,2.3,\n0,7,,,0.25\n0,7,2.27,,\n1,9,,2.2,\n"
    rows = parse_metrics_csv(text, WHERE)
    assert rows[1] == {"epoch": 0.0, "step": 7.0, "val_acc": 0.25}
    assert metrics_up_to(rows, step=7, epoch=0) == {"train_loss_step": 2.3, "val_acc": 0.25, "train_loss_epoch": 2.27}
    with pytest.raises(RunFormatError, match="header"):
        parse_metrics_csv("", WHERE)


def test_flat_yaml_reads_scalars_and_never_objects():
    text = """hidden: 64
lr: 1.0e-3
name: 'mlp'
use_bias: true
dropout: null
layers:
  - 64
  - 32
optimizer: !!python/object/apply:os.system ["echo owned"]
nested:
  depth: 2
sizes: [64, 32]
# a comment
"""
    assert parse_flat_yaml(text) == {"hidden": 64, "lr": 1e-3, "name": "mlp", "use_bias": True, "dropout": None}


def test_epoch_numbers_must_be_whole_and_distinct():
    assert distinct_numbers([1.0, 2.0, 3]) == [1, 2, 3]
    assert distinct_numbers([0.5, 1.0]) is None
    assert distinct_numbers([1, 1]) is None
    assert distinct_numbers([None, 1]) is None
