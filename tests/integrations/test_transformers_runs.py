"""transformers ``Trainer`` output folders and the ``TrainerCallback``, written by the real library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch  # noqa: E402
import transformers  # noqa: E402

from ibviewer.cli import main  # noqa: E402
from ibviewer.core.activations import ExtractOptions  # noqa: E402
from ibviewer.core.run import LiveRun, open_run, survey  # noqa: E402
from ibviewer.errors import ModelFactoryError, RunFormatError  # noqa: E402
from ibviewer.integrations.transformers import IBViewerTrainerCallback  # noqa: E402

from .conftest import poison, quiet_training  # noqa: E402

pytestmark = pytest.mark.slow
BLOCKS = ["bert.encoder.layer.0", "bert.encoder.layer.1"]


class _Tokens(torch.utils.data.Dataset):
    def __init__(self, path: Path, lm: bool = False) -> None:
        data = np.load(path)
        self.x, self.y, self.mask, self.lm = data["x"], data["y"], data["attention_mask"], lm

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        labels = self.x[i] if self.lm else self.y[i]
        return {"input_ids": torch.tensor(self.x[i]), "attention_mask": torch.tensor(self.mask[i]), "labels": torch.tensor(labels)}


def _args(out: Path, **changes) -> transformers.TrainingArguments:
    settings = dict(per_device_train_batch_size=16, logging_steps=1, report_to=[], use_cpu=True, disable_tqdm=True)
    return transformers.TrainingArguments(output_dir=str(out), **{**settings, **changes})


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory, tokens_npz):
    """A BERT trained 2 epochs (2 steps each): checkpoint-2, checkpoint-4, and an ibviewer run from the callback."""
    root = tmp_path_factory.mktemp("bert")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    callback = IBViewerTrainerCallback(root / "recorded", dataset=str(tokens_npz))
    with quiet_training():
        transformers.Trainer(
            model=model, args=_args(root / "out", num_train_epochs=2, save_strategy="epoch"),
            train_dataset=_Tokens(tokens_npz), callbacks=[callback],
        ).train()  # fmt: skip
    return root


def _reference(checkpoint: Path, tokens_npz: Path, layer: int) -> np.ndarray:
    """Block ``layer``'s output as transformers itself loads and runs the checkpoint, mean over real tokens."""
    data = np.load(tokens_npz)
    with quiet_training():
        model = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(data["x"]), attention_mask=torch.from_numpy(data["attention_mask"]), output_hidden_states=True)
    hidden, mask = out.hidden_states[layer + 1].numpy(), data["attention_mask"][..., None]
    return (hidden * mask).sum(1) / mask.sum(1)


def test_the_output_folder_opens_every_checkpoint_as_an_epoch(bert_run, tokens_npz):
    run = open_run(bert_run / "out", dataset=str(tokens_npz))
    assert run.kind == "transformers" and run.epochs == (1, 2) and run.source.epoch_unit == "epoch"
    assert "transformers BertForSequenceClassification" in run.model_spec
    assert {"loss", "learning_rate"} <= set(run.metrics[2]) and "epoch" not in run.metrics[2]
    assert [layer.name for layer in run.layers] == BLOCKS  # the blocks, not the embedding tables
    assert {"bert.embeddings", "bert.encoder", "classifier"} <= {layer.name for layer in run.all_layers}
    acts = run.activations()
    np.testing.assert_allclose(acts.layer(BLOCKS[1], 2), _reference(bert_run / "out" / "checkpoint-4", tokens_npz, 1), atol=1e-5)
    assert acts.options["attention_mask"] is True
    assert not np.allclose(acts.layer(BLOCKS[1], 1), acts.layer(BLOCKS[1], 2))  # the epochs differ


def test_one_checkpoint_folder_opens_as_one_epoch(bert_run, tokens_npz):
    run = open_run(bert_run / "out" / "checkpoint-2", dataset=str(tokens_npz))
    assert run.epochs == (1,) and [layer.name for layer in run.layers] == BLOCKS
    first = run.activations(ExtractOptions(sequence_pool="first"))
    np.testing.assert_allclose(first.layer(BLOCKS[0], 1), _first_token(bert_run / "out" / "checkpoint-2", tokens_npz), atol=1e-5)


def _first_token(checkpoint: Path, tokens_npz: Path) -> np.ndarray:
    data = np.load(tokens_npz)
    with quiet_training():
        model = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(data["x"]), attention_mask=torch.from_numpy(data["attention_mask"]), output_hidden_states=True)
    return out.hidden_states[1][:, 0].numpy()


def test_training_state_pickles_are_never_read(bert_run, tokens_npz, tmp_path):
    folder = tmp_path / "checkpoint-4"
    shutil.copytree(bert_run / "out" / "checkpoint-4", folder)
    marker = tmp_path / "unpickled"
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
        assert (folder / name).exists()  # the Trainer wrote them
        poison(folder / name, marker)
    run = open_run(folder, dataset=str(tokens_npz), trust_pickle=True)  # even with consent to unpickle
    run.activations()
    assert not marker.exists()
    assert survey(folder).lines()[:2] == ["transformers checkpoint: one checkpoint (one epoch)",
                                          "model: transformers BertForSequenceClassification (from config.json)"]  # fmt: skip


def test_configs_that_need_custom_code_are_refused(bert_run, tokens_npz, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(bert_run / "out" / "checkpoint-2", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, auto_map={"AutoModel": "modeling_evil.EvilModel"})))
    with pytest.raises(ModelFactoryError, match="never runs code from a model folder"):
        open_run(folder, dataset=str(tokens_npz))
    assert survey(folder).needs_model
    (folder / "config.json").write_text(json.dumps(dict(config, architectures=["EvilModel"])))
    with pytest.raises(ModelFactoryError, match="not a model class of transformers"):
        open_run(folder, dataset=str(tokens_npz))


def test_the_callback_run_opens_with_its_dataset_and_matches_the_checkpoints(bert_run, tokens_npz):
    # the model is built from the recorded config without consent (a class transformers ships); the
    # dataset file lies outside the run folder, so the run folder alone may not name it
    with pytest.raises(RunFormatError, match="outside the run folder"):
        open_run(bert_run / "recorded")
    recorded = open_run(bert_run / "recorded", dataset=str(tokens_npz))
    assert recorded.kind == "ibviewer" and recorded.epochs == (0, 1, 2)
    assert "loss" in recorded.metrics[2]
    assert [layer.name for layer in recorded.layers] == BLOCKS
    from_checkpoint = open_run(bert_run / "out", dataset=str(tokens_npz)).activations(ExtractOptions(layers=tuple(BLOCKS)))
    ours = recorded.activations()
    np.testing.assert_allclose(ours.layer(BLOCKS[1], 2), from_checkpoint.layer(BLOCKS[1], 2), atol=1e-6)


def test_checkpoints_saved_within_epochs_are_numbered_by_step_and_tied_weights_load(tmp_path, tokens_npz):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=2, n_head=2, n_positions=16, bos_token_id=1,
                                     eos_token_id=2, pad_token_id=0)  # fmt: skip
    with quiet_training():
        transformers.Trainer(
            model=transformers.GPT2LMHeadModel(config), train_dataset=_Tokens(tokens_npz, lm=True),
            args=_args(tmp_path / "gpt", max_steps=3, per_device_train_batch_size=8, save_strategy="steps", save_steps=1),
        ).train()  # fmt: skip
    run = open_run(tmp_path / "gpt", dataset=str(tokens_npz))
    assert run.epochs == (1, 2, 3) and run.source.epoch_unit == "step"  # epochs 0.25, 0.5, 0.75
    assert [layer.name for layer in run.layers] == ["transformer.h.0", "transformer.h.1"]
    model = run.load_model(3)
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # tied again
    with quiet_training():
        reference = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "gpt" / "checkpoint-3").eval()
    data = np.load(tokens_npz)
    with torch.no_grad():
        out = reference(torch.from_numpy(data["x"]), attention_mask=torch.from_numpy(data["attention_mask"]), output_hidden_states=True)
    last = data["attention_mask"].sum(1) - 1
    expected = out.hidden_states[1].numpy()[np.arange(len(last)), last]
    acts = run.activations(ExtractOptions(sequence_pool="last"))
    np.testing.assert_allclose(acts.layer("transformer.h.0", 3), expected, atol=1e-5)


def test_a_trainer_output_that_grows_is_followed(bert_run, tokens_npz, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(bert_run / "out" / "checkpoint-2", out / "checkpoint-2")
    run = open_run(out, dataset=str(tokens_npz))
    acts = run.activations()
    live = LiveRun(run)
    assert live.watched_paths() == (out,)
    shutil.copytree(bert_run / "out" / "checkpoint-4", out / "checkpoint-4", ignore=shutil.ignore_patterns("trainer_state.json"))
    changes = live.rescan()
    assert changes.pending == (out / "checkpoint-4",) and not changes.changed  # the Trainer writes its state last
    shutil.copy(bert_run / "out" / "checkpoint-4" / "trainer_state.json", out / "checkpoint-4")
    changes = live.rescan()
    assert [e.epoch for e in changes.added] == [2]
    grown = live.extend(acts, changes)
    full = open_run(bert_run / "out", dataset=str(tokens_npz)).activations(use_cache=False)
    assert grown.epochs == full.epochs == (1, 2)
    np.testing.assert_allclose(grown.values[BLOCKS[0]], full.values[BLOCKS[0]], atol=1e-6)


def test_info_describes_the_output_folder(bert_run, tokens_npz, capsys):
    assert main(["info", str(bert_run / "out"), "--dataset", str(tokens_npz)]) == 0
    out = capsys.readouterr().out
    assert "transformers" in out and "epochs     2: 1, 2" in out and "attention mask" in out
    rows = [line for line in out.splitlines() if "shape (" in line]
    assert len({line.index("shape (") for line in rows}) == 1  # columns stay aligned for long names and types
    assert any(line.startswith("  * bert.encoder.layer.0 ") and "BertLayer" in line for line in rows)
    assert main(["info", "--survey", str(bert_run / "out")]) == 0
    assert "transformers Trainer output: 2 checkpoints: checkpoint-2, checkpoint-4" in capsys.readouterr().out
