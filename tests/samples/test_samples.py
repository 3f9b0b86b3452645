"""The bundled sample runs and `ibviewer train-sample`: shortened retraining, and sensible bundled values."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import ibviewer
from ibviewer.cli import main
from ibviewer.errors import IBViewerError
from ibviewer.samples import DEFAULT_SAMPLE, SAMPLES, sample_module, sample_path, samples_root
from ibviewer.samples._wordnet import WORDNET_DIR

HAVE_WORDNET = (WORDNET_DIR / "data.noun").is_file()
needs_wordnet = pytest.mark.skipif(
    not HAVE_WORDNET, reason="WordNet 3.0 is not installed (apt-get install wordnet-base; CI installs it)"
)
REPO = Path(__file__).resolve().parents[2]


def _params(names):
    return [pytest.param(n, marks=needs_wordnet) if SAMPLES[n].needs else n for n in names]


@pytest.mark.parametrize("name", _params(SAMPLES))
def test_shortened_training_via_cli_opens_extracts_and_analyses(name, tmp_path, capsys):
    out = tmp_path / name
    assert main(["train-sample", name, "--out", str(out), "--epochs", "3"]) == 0
    printed = capsys.readouterr()
    assert f"wrote {name} to {out}" in printed.out
    assert "epoch 3/3" in printed.err  # the terminal progress

    run = ibviewer.open_run(out)
    assert run.name == name
    assert run.epochs[0] == 0 and run.epochs[-1] == 3
    assert run.metrics[3]  # every snapshot carries training metrics
    assert run.extra["sample"] == name
    acts = run.activations(use_cache=False)
    assert acts.layer_names == tuple(json.loads((out / "run.json").read_text())["layers"])
    for layer in acts.layer_names:
        values = acts.values[layer]
        assert values.shape[:2] == (len(run.epochs), run.dataset.n_samples)
        assert np.isfinite(values).all()
        assert not np.array_equal(values[0], values[-1])  # training changed the representation
    # and it analyses: an information plane with every cell inside its ceilings, and probes
    from ibviewer.core.information import compute_information_plane
    from ibviewer.core.probes import run_probes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # saturated layers are expected on short runs
        plane = compute_information_plane(acts, "binning", value_range="layer")
    assert plane.i_xt.shape == (len(run.epochs), len(acts.layer_names))
    assert (plane.i_xt >= 0).all() and (plane.i_xt <= plane.log2_n + 1e-9).all()
    assert (plane.i_ty >= 0).all() and (plane.i_ty <= plane.h_y + 1e-9).all()
    probes = run_probes(acts, max_samples=600)
    assert probes.linear_acc.shape == (1, len(acts.layer_names)) and (probes.linear_acc > 0).all()
    card = (out / "README.md").read_text()
    assert f"ibviewer train-sample {name} --out DIR" in card
    assert "Measured results (epoch 3)" in card


def test_shortened_runs_repeat_exactly_with_a_seed(tmp_path):
    from safetensors.torch import load_file

    for folder, seed in (("a", 0), ("b", 0), ("c", 1)):
        sample_module("digits_relu").train(tmp_path / folder, epochs=2, seed=seed)
    weights = {f: load_file(str(tmp_path / f / "weights" / "epoch_000002.safetensors")) for f in "abc"}
    for key in weights["a"]:
        assert np.array_equal(weights["a"][key].numpy(), weights["b"][key].numpy())
    assert not np.array_equal(weights["a"]["net.0.weight"].numpy(), weights["c"]["net.0.weight"].numpy())
    split = [np.load(tmp_path / f / "split.npz")["test_indices"] for f in "ac"]
    assert not np.array_equal(*split)  # the seed also draws the held-out split


def test_train_sample_refuses_to_overwrite_something_else(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["train-sample", "digits_mlp", "--out", str(other), "--epochs", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]

    relu = tmp_path / "relu"
    assert main(["train-sample", "digits_relu", "--out", str(relu), "--epochs", "2"]) == 0
    capsys.readouterr()
    assert main(["train-sample", "digits_mlp", "--out", str(relu), "--epochs", "1"]) == 2
    assert "holds a run of 'digits_relu'" in capsys.readouterr().err
    assert ibviewer.open_run(relu).epochs == (0, 1, 2)

    # the same sample is retrained from scratch in place: no stale snapshots remain
    assert main(["train-sample", "digits_relu", "--out", str(relu), "--epochs", "1"]) == 0
    assert ibviewer.open_run(relu).epochs == (0, 1)
    assert sorted(p.name for p in (relu / "weights").iterdir()) == [
        "epoch_000000.safetensors",
        "epoch_000001.safetensors",
    ]

    assert main(["train-sample", "digits_mlp", "--out", str(tmp_path / "x"), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train-sample", "no_such_sample", "--out", str(tmp_path / "y")])
    assert "invalid choice" in capsys.readouterr().err


def test_word_sample_without_corpus_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IBVIEWER_WORDNET_DIR", str(tmp_path / "no_wordnet"))
    assert main(["train-sample", "word_lm", "--out", str(tmp_path / "w"), "--epochs", "1"]) == 2
    assert "apt-get install wordnet-base" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_registry_and_paths(monkeypatch, tmp_path):
    assert DEFAULT_SAMPLE in SAMPLES
    assert samples_root() == REPO / "sample_models"
    for name in SAMPLES:
        path = sample_path(name)
        assert (path / "run.json").is_file() and (path / "README.md").is_file()
        assert sample_module(name).NAME == name
    with pytest.raises(IBViewerError, match="Unknown sample"):
        sample_path("nope")
    monkeypatch.setenv("IBVIEWER_SAMPLES_DIR", str(tmp_path))
    (tmp_path / "digits_mlp").mkdir()
    (tmp_path / "digits_mlp" / "run.json").write_text("{}")
    assert sample_path("digits_mlp") == tmp_path / "digits_mlp"


def test_bundled_samples_fit_the_size_budget():
    total = sum(f.stat().st_size for f in (REPO / "sample_models").rglob("*") if f.is_file())
    assert total < 30e6, f"sample_models/ holds {total / 1e6:.1f} MB; the budget is 30 MB"


def test_bundled_ib12_tanh_fits_its_labels():
    run = ibviewer.open_run(sample_path("ib12_tanh"))
    assert len(run.epochs) >= 200 and run.epochs[-1] >= 5000
    last = run.metrics[run.epochs[-1]]
    assert last["test_acc"] > 0.9 and last["train_acc"] > 0.95
    acts = run.activations(use_cache=False)
    last_hidden = acts.layer_names[-1]
    result = ibviewer.mutual_information(acts.layer(last_hidden), acts.labels, estimator="binning")
    assert result["i_ty"] == pytest.approx(result["h_y"], abs=0.05 * result["h_y"])
    untrained = ibviewer.mutual_information(acts.layer(last_hidden, 0), acts.labels, estimator="binning")
    assert untrained["i_ty"] < 0.5 * result["h_y"]  # I(T;Y) was learned, not there from the start
    assert "test accuracy" in (sample_path("ib12_tanh") / "README.md").read_text()


@pytest.mark.parametrize("name", ["digits_mlp", "digits_relu"])
def test_bundled_digits_last_hidden_layer_is_linearly_separable(name):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    run = ibviewer.open_run(sample_path(name))
    acts = run.activations(use_cache=False)
    test_idx = run.test_indices
    train_idx = np.setdiff1d(np.arange(acts.n_samples), test_idx)
    features = acts.layer(acts.layer_names[-1])
    with threadpool_limits(1):  # small matrices: BLAS threads on shared cores only slow this down
        probe = LogisticRegression(max_iter=3000).fit(features[train_idx], acts.labels[train_idx])
    assert probe.score(features[test_idx], acts.labels[test_idx]) > 0.9
    assert run.dataset.images is not None  # thumbnails for the neighbour panel


def test_bundled_word_lm_has_words_and_vectors_for_the_query_words():
    run = ibviewer.open_run(sample_path("word_lm"))
    words = run.dataset.words
    assert words is not None and len(words) == len(set(words)) >= 3000
    assert run.dataset.label_names == ("noun", "verb", "adjective", "adverb", "function word")
    queries = run.extra["query_words"]
    assert len(queries) == 16 and set(queries) <= set(words)
    index = [words.index(w) for w in queries]
    acts = run.activations(use_cache=False)
    assert set(acts.layer_names) == {"embed", "act1", "act2"}
    for layer in acts.layer_names:
        vectors = acts.layer(layer)[index]
        assert np.isfinite(vectors).all()
        assert len(np.unique(vectors.round(5), axis=0)) == 16  # one distinct vector per query word
    assert (sample_path("word_lm") / "LICENSE-WordNet.txt").read_text().count("Princeton University") >= 2
    assert "person" in (sample_path("word_lm") / "README.md").read_text()
