"""The word experiment preset: synonyms by the final layer, groups for colouring, per-layer embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from ibviewer.core.types import ActivationSet, LayerInfo
from ibviewer.core.words import word_experiment
from ibviewer.errors import EstimatorError


def word_acts() -> tuple[ActivationSet, list[str]]:
    """Three topics of 30 words each plus 60 filler words; topics are clusters in the last layer only."""
    rng = np.random.default_rng(0)
    words = [f"{topic}{i}" for topic in ("cat", "car", "sun") for i in range(30)] + [f"filler{i}" for i in range(60)]
    topic = np.array([0] * 30 + [1] * 30 + [2] * 30 + [3] * 60)
    centres = rng.normal(size=(4, 16)) * 5
    centres[3] = 0
    last = centres[topic] + rng.normal(size=(150, 16))
    first = rng.normal(size=(150, 16))
    values = {"emb": first[None].astype(np.float32), "out": last[None].astype(np.float32)}
    layers = (LayerInfo("emb", "Embedding", (16,), 16), LayerInfo("out", "Linear", (16,), 16))
    # the captured samples are dataset rows 10.. (a subset), so words must be looked up via sample_idx
    sample_idx = np.arange(150, dtype=np.int64) + 10
    all_words = [f"pad{i}" for i in range(10)] + words
    return ActivationSet(layers, (3,), values, topic.astype(np.int64), sample_idx, key="w"), all_words


def test_synonyms_come_from_the_final_layer_and_are_grouped():
    acts, words = word_acts()
    result = word_experiment(acts, words, ["cat0", "car0", "sun0"], n_neighbors=20, method="pca")
    assert result.query_words == ("cat0", "car0", "sun0")
    assert result.words[:3] == ("cat0", "car0", "sun0") and result.is_query[:3].all() and not result.is_query[3:].any()
    assert result.layer_for_synonyms == "out" and result.n_neighbors == 20 and result.epoch == 3
    assert result.n_selected == 63  # three disjoint topics of 21 words
    for word, group in zip(result.words, result.groups):
        assert word.startswith(("cat", "car", "sun")[group])
    assert result.embeddings.layers == ("emb", "out")
    coords = result.embeddings.get(3, "out").coords
    assert coords.shape == (63, 2)
    # rows follow selected_idx, whose words are the dataset's
    assert [words[int(acts.sample_idx[i])] for i in result.selected_idx] == list(result.words)


def test_defaults_follow_dims_and_embedding_is_tsne():
    acts, words = word_acts()
    with pytest.warns(UserWarning, match="perplexity"):
        result = word_experiment(acts, words, ["cat0"], dims=3, n_iter=60, early_exaggeration_iter=30)
    assert result.n_neighbors == 50 and result.n_selected == 51
    assert result.embeddings.method == "tsne" and result.embeddings.dims == 3


def test_unknown_query_words_list_close_matches():
    acts, words = word_acts()
    with pytest.raises(EstimatorError, match=r"'cta0' \(close: .*cat0"):
        word_experiment(acts, words, ["cat0", "cta0"], method="pca")
    with pytest.raises(EstimatorError, match="no words"):
        word_experiment(acts, [], ["cat0"])
    with pytest.raises(EstimatorError, match="repeat"):
        word_experiment(acts, words, ["cat0", "cat0"], method="pca")


def test_the_control_shows_grouping_by_construction_and_what_training_adds():
    """Untrained: groups chosen in `out` are close in `out` (by construction) but not in `emb`; trained: close in both."""
    rng = np.random.default_rng(1)
    topic = np.repeat(np.arange(3), 40)
    centres = rng.normal(size=(3, 16)) * 5
    untrained = {name: rng.normal(size=(120, 16)) for name in ("emb", "out")}
    trained = {name: centres[topic] + rng.normal(size=(120, 16)) for name in ("emb", "out")}
    values = {name: np.stack([untrained[name], trained[name]]).astype(np.float32) for name in ("emb", "out")}
    layers = (LayerInfo("emb", "Embedding", (16,), 16), LayerInfo("out", "Linear", (16,), 16))
    words = [f"w{i}" for i in range(120)]
    acts = ActivationSet(layers, (0, 7), values, topic.astype(np.int64), np.arange(120, dtype=np.int64), key="c")
    result = word_experiment(acts, words, ["w0", "w40", "w80"], n_neighbors=15, method="pca")
    control = result.control
    assert control is not None and (control.epoch, control.control_epoch) == (7, 0) and control.chosen_layer == "out"
    share, base = dict(zip(control.layers, control.share)), dict(zip(control.layers, control.control_share))
    assert share["emb"] > 0.9 and share["out"] > 0.9  # trained: the groups hold in a layer they were not chosen in
    assert base["out"] > control.control_chance + 0.2  # untrained: close where chosen, by construction only
    assert base["emb"] < control.control_chance + 0.2  # and at chance elsewhere
    assert "groups chosen here" in control.summary() and [r["chosen"] for r in control.rows()] == [False, True]
    # one saved epoch: no untrained network to compare with
    assert word_experiment(acts, words, ["w0"], n_neighbors=5, method="pca", epoch=0).control is None


def test_word_shares_are_the_experiments_control_and_write_words_csv(tmp_path):
    import csv

    from ibviewer.core.word_control import write_word_shares_csv
    from ibviewer.core.words import word_shares

    acts, words = word_acts()
    two = ActivationSet(acts.layers, (0, 3), {k: np.concatenate([v[:, ::-1], v]) for k, v in acts.values.items()},
                        acts.labels, acts.sample_idx, key="w2")  # fmt: skip
    experiment = word_experiment(two, words, ["cat0", "car0"], n_neighbors=20, method="pca")
    control = word_shares(two, words, ["cat0", "car0"], n_neighbors=20)
    np.testing.assert_array_equal(control.share, experiment.control.share)
    np.testing.assert_array_equal(control.control_share, experiment.control.control_share)
    with write_word_shares_csv(control, tmp_path / "words.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["layer"] for r in rows] == ["emb", "out"] and [r["chosen"] for r in rows] == ["0", "1"]
    assert float(rows[1]["share"]) == pytest.approx(control.share[1], abs=1e-6) and rows[0]["control_epoch"] == "0"
