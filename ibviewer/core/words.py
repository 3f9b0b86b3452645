"""The word experiment: query words, their nearest words by the final representation, embedded per layer.

For each query word, its ``n_neighbors`` nearest words in one layer (by default the last,
the model's final representation) are its "synonyms". Every query word and synonym is
then embedded at every layer with the same aligned settings, so one can watch at which
layer the synonym groups form. Works for any run whose dataset carries ``words``.

The groups are close in the layer they were chosen in by construction; the experiment's
``control`` (`ibviewer.core.word_control`) measures the grouping in every layer for this
network and for the untrained one, so the part owed to training can be read off.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ibviewer.core.cache import hash_arrays
from ibviewer.core.config import WORD_NEIGHBORS
from ibviewer.core.embedding import EmbeddingSet, Method, embed_layers, select_epochs, select_layers
from ibviewer.core.neighbors import Metric
from ibviewer.core.progress import NULL_PROGRESS, Progress, SubProgress
from ibviewer.core.types import ActivationSet, IntArray
from ibviewer.core.word_control import WordControl, choose_groups, word_control
from ibviewer.errors import EstimatorError

__all__ = ["WordExperiment", "word_experiment", "word_shares", "DEFAULT_NEIGHBORS"]

DEFAULT_NEIGHBORS = WORD_NEIGHBORS  # synonyms per query word by dims (defined with the settings)


@dataclass(frozen=True, eq=False)
class WordExperiment:
    """Query words, their synonyms, and the per-layer embeddings of all of them.

    Attributes
    ----------
    query_words : tuple of str
    selected_idx : ndarray of int64
        (n_selected,) rows of the activation set that were embedded (queries first, in
        query order, then synonyms in order of first appearance).
    words : tuple of str
        (n_selected,) the word of each selected row.
    groups : ndarray of int64
        (n_selected,) index into ``query_words`` of the group each row belongs to: a word
        among several queries' synonyms goes to the query it is nearest to.
    is_query : ndarray of bool
        (n_selected,) True for the query words themselves.
    embeddings : EmbeddingSet
        Per-layer embeddings of the selected rows (row i of each panel is ``selected_idx[i]``).
    epoch : int
    layer_for_synonyms : str
    n_neighbors : int
    metric : str
    control : WordControl or None
        The same-group neighbour share per layer, of this experiment and of the same
        experiment through the first saved (untrained) network; None when ``epoch`` is the
        first saved epoch.
    """

    query_words: tuple[str, ...]
    selected_idx: IntArray
    words: tuple[str, ...]
    groups: IntArray
    is_query: np.ndarray
    embeddings: EmbeddingSet
    epoch: int
    layer_for_synonyms: str
    n_neighbors: int
    metric: str
    control: WordControl | None = None

    @property
    def n_selected(self) -> int:
        return int(self.selected_idx.shape[0])


def _sample_words(acts: ActivationSet, words: Sequence[str]) -> list[str]:
    if words is None or len(words) == 0:
        raise EstimatorError("This run's dataset carries no words; the word experiment needs a text dataset.")
    if acts.sample_idx.size and int(acts.sample_idx.max()) >= len(words):
        raise EstimatorError(
            f"The dataset has {len(words)} words but the activations refer to sample {int(acts.sample_idx.max())}; "
            "pass the dataset's full word list."
        )
    return [str(words[int(i)]) for i in acts.sample_idx]


def _find_queries(sample_words: list[str], query_words: Sequence[str]) -> list[int]:
    first_row: dict[str, int] = {}
    for row, word in enumerate(sample_words):
        first_row.setdefault(word, row)
    if not query_words:
        raise EstimatorError("Give at least one query word.")
    rows, problems = [], []
    for word in query_words:
        if word in first_row:
            rows.append(first_row[word])
            continue
        close = difflib.get_close_matches(word, list(first_row), n=5)
        hint = f" (close: {', '.join(close)})" if close else ""
        problems.append(f"{word!r}{hint}")
    if problems:
        raise EstimatorError(
            f"Unknown query word(s) among the captured samples: {'; '.join(problems)}. "
            "Pick words from the dataset (or capture more samples)."
        )
    if len(set(rows)) < len(rows):
        raise EstimatorError(f"Query words repeat: {list(query_words)}; give each once.")
    return rows


def word_experiment(
    acts: ActivationSet,
    words: Sequence[str],
    query_words: Sequence[str],
    *,
    n_neighbors: int | None = None,
    layer_for_synonyms: str | None = None,
    metric: Metric = "cosine",
    epoch: int | None = None,
    method: Method = "tsne",
    dims: int = 2,
    seed: int = 0,
    progress: Progress = NULL_PROGRESS,
    cache_dir: str | None = None,
    use_cache: bool = True,
    **embed_params: object,
) -> WordExperiment:
    """Find each query word's nearest words in the final representation and embed them per layer.

    Parameters
    ----------
    acts : ActivationSet
        Activations of a run whose samples are words.
    words : sequence of str
        The dataset's words (``Dataset.words``), indexed by dataset sample index.
    query_words : sequence of str
        E.g. 16 words; each must be among the captured samples.
    n_neighbors : int, optional
        Synonyms per query word; default 200 in 2-D, 50 in 3-D.
    layer_for_synonyms : str, optional
        Layer whose neighbours define synonyms; default the last layer.
    metric : {"cosine", "euclidean", "dot"}, default="cosine"
    epoch : int, optional
        Default: the last saved epoch.
    method, dims, seed
        Embedding settings (see :func:`ibviewer.core.embedding.embed_layers`).
    progress : Progress
    cache_dir, use_cache
        Passed to ``embed_layers``.
    **embed_params
        Further ``embed_layers`` arguments (``alignment``, ``perplexity``, ...).

    Returns
    -------
    WordExperiment

    Raises
    ------
    EstimatorError
        No words, unknown query words (the message lists close matches), bad settings.
    """
    if dims not in DEFAULT_NEIGHBORS:
        raise EstimatorError(f"dims must be 2 or 3, got {dims!r}.")
    sample_words = _sample_words(acts, words)
    query_rows = _find_queries(sample_words, query_words)
    (epoch_value,) = select_epochs(acts, epoch)
    layer = layer_for_synonyms if layer_for_synonyms is not None else acts.layer_names[-1]
    select_layers(acts, [layer])
    k = int(n_neighbors) if n_neighbors is not None else DEFAULT_NEIGHBORS[dims]
    if k < 1:
        raise EstimatorError(f"n_neighbors must be at least 1, got {k}.")
    k = min(k, acts.n_samples - 1)
    progress.update(0.0, f"synonyms: {len(query_rows)} query words, {k} neighbours each in {layer}")
    selected, groups = choose_groups(acts, query_rows, layer, epoch_value, k, metric, progress)
    control = word_control(acts, query_rows, selected, groups, layer, epoch_value, k, metric, progress=progress)
    subset = ActivationSet(
        layers=acts.layers,
        epochs=(epoch_value,),
        values={name: acts.values[name][acts.epoch_index(epoch_value)][selected][None] for name in acts.layer_names},
        labels=groups,
        sample_idx=acts.sample_idx[selected],
        key=hash_arrays([selected], extra={"of": acts.key, "epoch": epoch_value}),
        options=dict(acts.options),
    )
    embeddings = embed_layers(
        subset,
        method=method,
        dims=dims,
        seed=seed,
        progress=SubProgress(progress, 0.05, 1.0),
        cache_dir=cache_dir,
        use_cache=use_cache,
        **embed_params,  # type: ignore[arg-type]
    )
    return WordExperiment(
        query_words=tuple(query_words),
        selected_idx=selected,
        words=tuple(sample_words[row] for row in selected.tolist()),
        groups=subset.labels,
        is_query=np.arange(len(selected)) < len(query_rows),
        embeddings=embeddings,
        epoch=epoch_value,
        layer_for_synonyms=layer,
        n_neighbors=k,
        metric=metric,
        control=control,
    )


def word_shares(
    acts: ActivationSet,
    words: Sequence[str],
    query_words: Sequence[str],
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS[2],
    layer_for_synonyms: str | None = None,
    metric: Metric = "cosine",
    epoch: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> WordControl | None:
    """The word experiment's numbers without its embeddings: each layer's same-group share, trained and untrained.

    What ``ibviewer analyze --words`` writes; the same groups and shares as `word_experiment`
    with the same words, ``n_neighbors``, layer and metric. None when ``epoch`` is the first saved epoch.
    """
    query_rows = _find_queries(_sample_words(acts, words), query_words)
    (epoch_value,) = select_epochs(acts, epoch)
    layer = layer_for_synonyms if layer_for_synonyms is not None else acts.layer_names[-1]
    select_layers(acts, [layer])
    k = min(int(n_neighbors), acts.n_samples - 1)
    selected, groups = choose_groups(acts, query_rows, layer, epoch_value, k, metric, progress)
    return word_control(acts, query_rows, selected, groups, layer, epoch_value, k, metric, progress=progress)
