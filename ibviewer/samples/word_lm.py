"""Sample ``word_lm``: a small word-level language model trained on WordNet 3.0's glosses.

The run's dataset is the vocabulary itself (``vocab.npz``): one sample per word, the
word alone at the end of an otherwise padded context window, labelled with WordNet's
most frequent part of speech for it. Its hidden representations are then "what the
model thinks follows this word", and nearest words by the last hidden layer are the
model's "synonyms", checked here against WordNet's own synonym sets.
"""

from __future__ import annotations

import collections
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ibviewer.core.cache import save_npz_atomic
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.recorder import Recorder
from ibviewer.errors import IBViewerError
from ibviewer.samples._common import final_metrics, prepare_out_dir, seeded_torch, significant, training_section
from ibviewer.samples._wordnet import WordNet, gloss_sentences, licence_text, load_wordnet, wordnet_dir

NAME = "word_lm"
TITLE = "A small word-level language model trained on WordNet 3.0 glosses"
N_WORDS = 4000  # vocabulary: the most frequent words of the training glosses
CONTEXT = 4
EMBED_DIM = 32
HIDDEN = 128
CHUNKS_PER_EPOCH = 40  # one "epoch" is 1/40 of a pass over the training windows
DEFAULT_EPOCHS = 120  # three passes
N_SNAPSHOTS = 8
LR = 1e-3
BATCH_SIZE = 256
TRUNCATE_PROB = 0.25  # share of windows whose earlier context is blanked (so one word alone is a valid input)
TEST_FRACTION = 0.05  # glosses held out for the test loss
EVAL_WINDOWS = 20_000
LAYERS = ["embed", "act1", "act2"]
K_SYNONYMS = 10
VOCAB_FILE = "vocab.npz"
LICENCE_FILE = "LICENSE-WordNet.txt"

#: Chosen before training, by rule: four common words of each part of speech with at least two
#: WordNet synonyms in the vocabulary.
QUERY_WORDS = (
    "person", "country", "language", "family",
    "make", "give", "begin", "move",
    "large", "small", "new", "strong",
    "usually", "often", "quickly", "completely",
)  # fmt: skip

LABEL_NAMES = ("noun", "verb", "adjective", "adverb", "function word")
_POS_LABEL = {"n": 0, "v": 1, "a": 2, "r": 3}

# closed-class words: WordNet lists some of them as rare nouns ("a" = vitamin A, "in" = inch)
FUNCTION_WORDS = frozenset(
    """a an the this that these those such what which who whom whose whatever whichever
    i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    one's oneself itself himself herself themselves myself yourself ourselves something anything nothing
    everything someone anyone everyone no none not nor neither either each every both all any some
    of in on at by for with from to into onto upon over under about above below between among through
    during before after since until till against toward towards across along around behind beyond within
    without off out up down via per than like unlike near
    and or but if then because while whereas although though so yet as when where whether how why
    is are was were be been being am do does did done has have had having
    can could may might must shall should will would ought
    there here very also too just only even still more most less least much many such own other another
    same""".split()
)


def train(out_dir: str | Path, epochs: int | None = None, seed: int = 0, progress: Progress = NULL_PROGRESS) -> Path:
    """Train ``word_lm`` from scratch into ``out_dir`` and write its model card.

    Parameters
    ----------
    out_dir : path
        New or empty folder (or an earlier run of this sample, which is replaced).
    epochs : int, optional
        Training epochs, each 1/40 of a pass over the corpus (default 120: three passes).
    seed : int, default=0
        Seeds the held-out glosses, the initial weights and the batch order.
    progress : Progress
        Receives the fraction done; cancelling stops after the current epoch.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    IBViewerError
        WordNet is not installed (``apt-get install wordnet-base``), or ``out_dir`` holds something else.
    """
    import torch

    from ibviewer.models import PAD_ID, UNK_ID, word_lm

    n_epochs = DEFAULT_EPOCHS if epochs is None else int(epochs)
    if n_epochs < 1:
        raise IBViewerError(f"--epochs must be at least 1, got {epochs}.")
    folder = wordnet_dir()  # fails early, with the install hint
    path = prepare_out_dir(out_dir, NAME)
    progress.update(0.0, "word_lm: reading WordNet")
    wn = load_wordnet(folder)
    corpus = build_corpus(wn, seed)
    vocab = corpus["words"]
    save_npz_atomic(path / VOCAB_FILE, vocab_dataset(wn, vocab))
    os.chmod(path / VOCAB_FILE, 0o644)  # temporary files are created private; this one is shared data
    (path / LICENCE_FILE).write_text(licence_text(folder), encoding="utf-8")
    queries = [w for w in QUERY_WORDS if w in corpus["index"]]
    settings = {
        "seed": seed,
        "epochs": n_epochs,
        "epoch": f"1/{CHUNKS_PER_EPOCH} of a pass over the {len(corpus['train'])} training windows",
        "optimizer": "Adam",
        "lr": LR,
        "batch_size": BATCH_SIZE,
        "loss": "next-word negative log-likelihood",
        "context": CONTEXT,
        "context_truncation": f"{TRUNCATE_PROB:.0%} of windows keep only their last 1-{CONTEXT - 1} words",
        "held_out_glosses": f"{TEST_FRACTION:.0%} ({len(corpus['test'])} windows)",
        "vocabulary": f"{len(vocab)} most frequent words + <pad> + <unk>",
        "weights_dtype": "float16",
    }
    kwargs = {"vocab_size": len(vocab) + 2, "context": CONTEXT, "embed_dim": EMBED_DIM, "hidden": HIDDEN}
    recorder = Recorder(
        path, "ibviewer.models:word_lm", kwargs, VOCAB_FILE, schedule="log", n_epochs=n_epochs,
        n_snapshots=N_SNAPSHOTS, layers=LAYERS, name=NAME,
        extra={"sample": NAME, "training": settings, "query_words": queries, "vocab_file": VOCAB_FILE,
               "special_tokens": {"0": "<pad>", "1": "<unk>"}, "corpus": "WordNet 3.0 glosses and examples"},
        restart=True,
    )  # fmt: skip
    train_windows = torch.from_numpy(corpus["train"])
    test_windows = torch.from_numpy(corpus["test"])
    started = time.perf_counter()
    with seeded_torch(seed):
        model = word_lm(**kwargs)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        generator = torch.Generator().manual_seed(seed)
        eval_rows = torch.randperm(len(train_windows), generator=generator)[:EVAL_WINDOWS]
        chunk = math.ceil(len(train_windows) / CHUNKS_PER_EPOCH)
        order = torch.empty(0, dtype=torch.long)
        for epoch in range(n_epochs + 1):
            progress.check_cancelled()
            if epoch > 0:
                part = (epoch - 1) % CHUNKS_PER_EPOCH
                if part == 0:
                    order = torch.randperm(len(train_windows), generator=generator)
                rows = order[part * chunk : (part + 1) * chunk]
                for start in range(0, len(rows), BATCH_SIZE):
                    batch = train_windows[rows[start : start + BATCH_SIZE]]
                    context = _truncate(batch[:, :-1], generator, PAD_ID)
                    optimizer.zero_grad()
                    loss = torch.nn.functional.nll_loss(model(context), batch[:, -1])
                    loss.backward()
                    optimizer.step()
            if recorder.should_record(epoch):
                metrics = _evaluate(model, train_windows[eval_rows], "", UNK_ID)
                metrics.update(_evaluate(model, test_windows[:EVAL_WINDOWS], "test_", UNK_ID))
                recorder.record(epoch, model, metrics, dtype=torch.float16)
            progress.update(epoch / n_epochs, f"word_lm: epoch {epoch}/{n_epochs}")
        settings["train_seconds"] = round(time.perf_counter() - started, 1)
        progress.update(1.0, "word_lm: checking synonyms against WordNet")
        write_card(path, settings, wn)
    return path


def _truncate(context: Any, generator: Any, pad_id: int) -> Any:
    """Blank the earlier words of a random share of context windows (keep the last 1..CONTEXT-1)."""
    import torch

    n = context.shape[0]
    chosen = torch.rand(n, generator=generator) < TRUNCATE_PROB
    keep = torch.randint(1, CONTEXT, (n,), generator=generator)
    positions = torch.arange(CONTEXT).unsqueeze(0)
    blank = chosen.unsqueeze(1) & (positions < (CONTEXT - keep).unsqueeze(1))
    return context.masked_fill(blank, pad_id)


def _evaluate(model: Any, windows: Any, prefix: str, unk_id: int) -> dict[str, float]:
    import torch

    model.eval()
    with torch.no_grad():
        log_probs = model(windows[:, :-1])
        loss = torch.nn.functional.nll_loss(log_probs, windows[:, -1])
        acc = (log_probs.argmax(dim=1) == windows[:, -1]).float().mean()
    model.train()
    return {f"{prefix}loss": significant(float(loss)), f"{prefix}acc": significant(float(acc)),
            f"{prefix}perplexity": significant(math.exp(float(loss)))}  # fmt: skip


def build_corpus(wn: WordNet, seed: int) -> dict[str, Any]:
    """Vocabulary and (context + target) windows from the glosses; a seeded share of glosses is held out.

    Returns
    -------
    dict
        ``words`` (the vocabulary, most frequent first), ``index`` (word -> token id),
        ``train`` and ``test``: (n_windows, CONTEXT + 1) int64, the last column the target
        (never ``<unk>``), earlier columns the left-padded context.
    """
    from ibviewer.models import PAD_ID, UNK_ID

    sentences = [gloss_sentences(gloss) for gloss in wn.glosses]
    held_out = np.random.default_rng(seed).random(len(sentences)) < TEST_FRACTION
    counts = collections.Counter(w for i, gloss in enumerate(sentences) if not held_out[i] for s in gloss for w in s)
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:N_WORDS]]
    index = {w: i + 2 for i, w in enumerate(words)}
    windows = {}
    for split, keep in (("train", ~held_out), ("test", held_out)):
        pieces = [np.full(CONTEXT, PAD_ID, np.int64)]
        for i in np.flatnonzero(keep):
            for sentence in sentences[i]:
                pieces.append(np.fromiter((index.get(w, UNK_ID) for w in sentence), np.int64, len(sentence)))
                pieces.append(np.full(CONTEXT, PAD_ID, np.int64))
        flat = np.concatenate(pieces)
        all_windows = np.lib.stride_tricks.sliding_window_view(flat, CONTEXT + 1)
        targets = all_windows[:, -1]
        windows[split] = np.ascontiguousarray(all_windows[(targets != PAD_ID) & (targets != UNK_ID)])
    return {"words": words, "index": index, **windows}


def word_label(wn: WordNet, word: str) -> int:
    """The class of a vocabulary word: its most frequent WordNet part of speech, or "function word"."""
    if word in FUNCTION_WORDS:
        return len(LABEL_NAMES) - 1
    pos = wn.main_pos(word)
    return _POS_LABEL[pos] if pos is not None else len(LABEL_NAMES) - 1


def vocab_dataset(wn: WordNet, words: list[str]) -> dict[str, np.ndarray]:
    """The run's dataset: each word alone at the end of a padded window, its part of speech, the words."""
    from ibviewer.models import PAD_ID

    x = np.full((len(words), CONTEXT), PAD_ID, dtype=np.int64)
    x[:, -1] = np.arange(len(words)) + 2
    return {
        "x": x,
        "y": np.array([word_label(wn, w) for w in words], dtype=np.int64),
        "label_names": np.array(LABEL_NAMES),
        "words": np.array(words),
    }


def synonym_scores(
    vectors: np.ndarray, synonyms: np.ndarray, rows: list[int], k: int, pos: np.ndarray | None = None
) -> dict[str, float]:
    """Precision@k of nearest words (cosine) being WordNet synonyms, and the random-pick baselines.

    Parameters
    ----------
    vectors : ndarray
        (n_words, dim) word vectors.
    synonyms : ndarray of bool
        (n_words, n_words) WordNet synonymy (:meth:`WordNet.synonym_matrix`).
    rows : list of int
        The words scored.
    k : int
        Neighbours per word.
    pos : ndarray of int, optional
        (n_words,) part of speech of every word (the dataset's labels).

    Returns
    -------
    dict
        ``precision``: mean over ``rows`` of the share of each word's k nearest words
        that are its synonyms; ``baseline``: mean share of synonyms among all other
        words (the expected precision of k random picks); ``same_pos``: the same among the
        other words of the word's part of speech (k random picks of that part of speech:
        the honest baseline, since any model that learnt parts of speech beats the
        uniform one); ``n``: number of rows.
    """
    from ibviewer.core.neighbors import exact_knn

    rows_arr = np.asarray(rows, dtype=np.int64)
    neighbours, _ = exact_knn(vectors, k, metric="cosine", rows=rows_arr)
    hits = np.take_along_axis(synonyms[rows_arr], neighbours, axis=1)
    baseline = synonyms[rows_arr].sum(axis=1) / (len(synonyms) - 1)
    scores = {"precision": float(hits.mean()), "baseline": float(baseline.mean()), "n": len(rows)}
    if pos is not None:
        same = pos[rows_arr][:, None] == pos[None, :]
        same_count = same.sum(axis=1) - 1  # the word itself has its own part of speech
        scores["same_pos"] = float(((synonyms[rows_arr] & same).sum(axis=1) / np.maximum(same_count, 1)).mean())
    return scores


def write_card(run_dir: Path, settings: dict[str, Any], wn: WordNet) -> None:
    """Write ``README.md`` with this run's perplexity and its synonym check against WordNet."""
    from ibviewer.core.neighbors import exact_knn
    from ibviewer.core.run import open_run
    from ibviewer.core.words import DEFAULT_NEIGHBORS, word_shares

    epoch, metrics = final_metrics(run_dir)
    run = open_run(run_dir)
    words = list(run.dataset.words)
    acts = run.activations(use_cache=False)
    queries = [words.index(w) for w in run.extra.get("query_words", [])]
    synonyms = wn.synonym_matrix(words)
    with_synonyms = [int(i) for i in np.flatnonzero(synonyms.any(axis=1))]
    rows, neighbour_lines = [], []
    pos = np.asarray(run.dataset.y)
    for layer in acts.layer_names:
        first = synonym_scores(acts.layer(layer, acts.epochs[0]), synonyms, queries, K_SYNONYMS, pos)
        last_q = synonym_scores(acts.layer(layer, epoch), synonyms, queries, K_SYNONYMS, pos)
        last_all = synonym_scores(acts.layer(layer, epoch), synonyms, with_synonyms, K_SYNONYMS, pos)
        rows.append(
            f"| `{layer}` | {first['precision']:.3f} | {last_q['precision']:.3f} | {last_q['same_pos']:.3f} | "
            f"{last_q['baseline']:.4f} | {last_all['precision']:.3f} | {last_all['same_pos']:.3f} | {last_all['baseline']:.4f} |"
        )
    last = acts.layer_names[-1]
    q_last = synonym_scores(acts.layer(last, epoch), synonyms, queries, K_SYNONYMS, pos)
    all_last = synonym_scores(acts.layer(last, epoch), synonyms, with_synonyms, K_SYNONYMS, pos)
    hits = round(q_last["precision"] * len(queries) * K_SYNONYMS)
    honest = (
        f"Compare with the same-part-of-speech pick: by `{last}` the {len(queries)} query words' neighbours hold "
        f"{q_last['precision']:.3f} synonyms ({hits} of {len(queries) * K_SYNONYMS}: a small sample) against "
        f"{q_last['same_pos']:.3f}; over all words the model scores {all_last['precision']:.3f} against "
        f"{all_last['same_pos']:.3f}. Its neighbourhoods encode part of speech and context, hardly synonymy."
    )
    control = word_shares(acts, words, [words[i] for i in queries], epoch=epoch)
    control_rows = [] if control is None else [
        f"| `{r['layer']}`{' (groups chosen here)' if r['chosen'] else ''} | {r['share']:.2f} | {r['control_share']:.2f} |"
        for r in control.rows()
    ]  # fmt: skip
    final = acts.layer(acts.layer_names[-1], epoch)
    neighbours, _ = exact_knn(final, K_SYNONYMS, metric="cosine", rows=np.asarray(queries))
    for row, near in zip(queries, neighbours):
        marked = [f"**{words[j]}**" if synonyms[row, j] else words[j] for j in near]
        neighbour_lines.append(f"- *{words[row]}* ({LABEL_NAMES[word_label(wn, words[row])]}): {', '.join(marked)}")
    label_counts = np.bincount(run.dataset.y, minlength=len(LABEL_NAMES))
    snapshots = f"Snapshots: epochs {', '.join(str(e) for e in acts.epochs)} (weights in float16)."
    text = f"""# word_lm — {TITLE}

The language model of the word experiment: a feed-forward next-word predictor
(Bengio et al. 2003 style) whose hidden layers give every word a vector. Its
"synonyms" (nearest words by the last hidden layer) are checked against WordNet.

## Data
The glosses (definitions and example sentences, the text after `|`) of all {len(wn.glosses)}
synsets of WordNet 3.0 (`/usr/share/wordnet/data.*`, Debian package `wordnet-base`), split
at `;`, lower-cased, tokenised into words (letters and inner apostrophes). A seeded
{TEST_FRACTION:.0%} of glosses is held out for the test loss. Licence: WordNet 3.0 licence
(Princeton University, permissive; the copyright notice and disclaimer must travel with
copies): see [`{LICENCE_FILE}`]({LICENCE_FILE}).

The run's dataset `{VOCAB_FILE}` is the vocabulary itself: {len(words)} words, each given to
the model alone (three `<pad>` tokens, then the word), labelled with WordNet's most
frequent part of speech for it (tagged-sense counts from `index.*`, inflections mapped to
their lemma): {', '.join(f'{n} {name}' for n, name in zip(label_counts, LABEL_NAMES))}
(function word = a closed-class word or one WordNet does not list).

## Model
`ibviewer.models:word_lm` (vocab_size {len(words) + 2}, context {CONTEXT}, embed_dim {EMBED_DIM},
hidden {HIDDEN}): `embed` (word vectors; `<pad>` is the zero vector) -> concatenated ->
`fc1` + `act1` (tanh) -> `fc2` + `act2` (tanh) -> `out` -> `log_softmax` over the vocabulary.
Captured layers: `embed` (mean over the window: the word's vector / {CONTEXT}), `act1`, `act2`.

{training_section(NAME, settings, snapshots, needs="; needs `apt-get install wordnet-base`")}
## Measured results (epoch {epoch})
- held-out next-word loss {metrics.get('test_loss', float('nan')):.3f} nats (perplexity
  {metrics.get('test_perplexity', float('nan')):.1f}), top-1 accuracy {metrics.get('test_acc', float('nan')):.3f};
  on training windows loss {metrics.get('loss', float('nan')):.3f}, accuracy {metrics.get('acc', float('nan')):.3f}.
  (A uniform guess has perplexity {len(words) + 2}.)

### Synonyms against WordNet
The 16 query words (chosen before training, by rule: four common words of each part of
speech with at least two WordNet synonyms in the vocabulary):
{', '.join(f'*{words[i]}*' for i in queries)}.

Precision@{K_SYNONYMS}: the share of a word's {K_SYNONYMS} nearest vocabulary words (cosine) that share a
WordNet synset with it (inflections of the same lemma excluded). Baselines: the same share
among the vocabulary words of the word's own part of speech ("same POS": {K_SYNONYMS} random picks
of that part of speech, the honest comparison, since a model that has only learnt parts of
speech reaches it) and among all vocabulary words ("random", {K_SYNONYMS} uniform picks). "All"
averages over the {len(with_synonyms)} vocabulary words that have at least one WordNet synonym in
the vocabulary.

| layer | queries, epoch {acts.epochs[0]} | queries, epoch {epoch} | queries, same POS | queries, random | all, epoch {epoch} | all, same POS | all, random |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

{honest}

### The word experiment and its control (what the tool shows)
The GUI's word experiment (and `ibviewer analyze RUN --words`, `words.csv`) groups each query
word with its {DEFAULT_NEIGHBORS[2]} nearest words in `{acts.layer_names[-1]}` and reports, per layer, the share of every
grouped word's 10 nearest grouped words that are in its group, beside the same experiment
through the untrained network (epoch {acts.epochs[0]}, groups chosen the same way). In the layer the
groups were chosen in they are close by construction, trained or not:

| layer | epoch {epoch} | untrained (epoch {acts.epochs[0]}) |
|---|---|---|
{chr(10).join(control_rows)}

Chance (random picks among the grouped words): {control.chance if control is not None else float('nan'):.3f}. Only the
difference to the untrained column, in the layers other than the one the groups were chosen in,
is owed to training.

Nearest words by `{acts.layer_names[-1]}` at epoch {epoch} (WordNet synonyms in bold):

{chr(10).join(neighbour_lines)}

Most of what the model puts near a word are words used in the same contexts (same part of
speech, antonyms, related words), which WordNet does not call synonyms.
"""
    (run_dir / "README.md").write_text(text, encoding="utf-8")

