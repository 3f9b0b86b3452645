"""AppState: probes kept per epoch, what is still missing, running job slots, the word run's query words."""

from __future__ import annotations

import numpy as np

from ibviewer.core.neighbors import Neighborhood
from ibviewer.core.probes import ProbeResult
from tests.gui.synthetic import EPOCHS, LAYERS, QUERY_WORDS, make_state, make_word_state


def _probes(epochs, offset=0.0):
    n = len(epochs)
    linear = np.arange(n * len(LAYERS), dtype=np.float64).reshape(n, len(LAYERS)) / 10 + offset
    return ProbeResult(epochs=tuple(epochs), layers=LAYERS, linear_acc=linear, knn_acc=linear / 2, chance=1 / 3, n_samples=60)


def test_probes_of_more_epochs_join_those_probed_before():
    state = make_state(dims=2)
    changes = []
    state.result_changed.connect(changes.append)
    every = _probes(EPOCHS)
    state.set_probes(every)
    one = _probes((5,), offset=0.05)  # the same epoch probed again (the analysis of epoch 5)
    state.set_probes(one)
    assert changes == ["probes", "probes"]
    probes = state.probes
    assert probes.epochs == EPOCHS and probes.layers == LAYERS
    np.testing.assert_array_equal(probes.linear_acc[[0, 2]], every.linear_acc[[0, 2]])
    np.testing.assert_array_equal(probes.linear_acc[1], one.linear_acc[0])
    np.testing.assert_array_equal(probes.knn_acc[1], one.knn_acc[0])
    assert state.has_probes(5) and state.probe_accuracy("fc2", 5) == one.linear_acc[0, 1]
    state.clear_probes()
    assert state.probes is None and not state.has_probes()


def test_a_new_run_clears_every_result():
    state = make_state(dims=2)
    state.set_probes(_probes(EPOCHS))
    state.set_focus(3, "fc1")
    state.set_run(state.run, state.activations, epoch=5)
    assert state.epoch == 5 and state.probes is None and state.coords("fc1") is None and state.focus is None
    state.set_run(state.run, state.activations, epoch=99)  # not a saved epoch: the last one
    assert state.epoch == EPOCHS[-1]


def test_missing_results_name_what_the_window_still_waits_for():
    state = make_state(dims=2)  # PCA embeddings of every layer, nothing else
    assert state.missing_results() == ["the information plane", f"the probes at epoch {state.epoch}"]
    state.set_probes(_probes((state.epoch,)))
    state.set_focus(0, "fc1")
    assert state.missing_results() == ["the information plane", "the neighbours of the clicked sample"]
    indices = {layer: np.array([1, 2]) for layer in LAYERS}
    state.set_neighbors(Neighborhood(0, "fc1", state.epoch, 2, "euclidean", LAYERS, indices, {k: np.ones(2) for k in LAYERS}))
    state.set_settings(method="tsne")  # PCA panels are only a preview of t-SNE
    assert state.missing_results() == ["the information plane", f"the embeddings at epoch {state.epoch}"]
    words = make_word_state()
    assert words.has_words() and words.query_words() == QUERY_WORDS
    assert "the word experiment" in words.missing_results()


def test_running_slots_are_announced_once_per_change():
    state = make_state(dims=2)
    changes = []
    state.running_changed.connect(lambda: changes.append(state.running))
    state.set_running("words", True)
    state.set_running("words", True)
    state.set_running("probes", True)
    state.set_running("words", False)
    assert changes == [{"words"}, {"words", "probes"}, {"probes"}]
