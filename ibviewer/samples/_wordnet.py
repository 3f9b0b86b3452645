"""Reading WordNet 3.0's database files (Debian ``wordnet-base``): glosses, parts of speech, synonyms.

Only what the ``word_lm`` sample needs: the gloss text of every synset (its
definition and example sentences, the text after ``|``), each word's most
frequent part of speech, and the synonym sets, with a small version of
WordNet's "morphy" so inflected corpus words ("makes", "larger") find their
lemmas. Every ``data.*``/``index.*`` file opens with a licence header of lines
starting with two spaces; those lines are skipped (and kept for the licence).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ibviewer.errors import DatasetError

WORDNET_DIR = Path("/usr/share/wordnet")
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb"}
INSTALL_HINT = (
    "The word_lm sample is trained on WordNet 3.0's glosses, which are not installed. "
    "Install them with `apt-get install wordnet-base` (Debian/Ubuntu; files in /usr/share/wordnet), "
    "or point IBVIEWER_WORDNET_DIR at a folder holding WordNet 3.0's data.noun, index.noun, ... files."
)

# WordNet's detachment rules (morphy), per part of speech: (suffix, replacement)
_RULES = {
    "n": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
          ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}  # fmt: skip

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def wordnet_dir() -> Path:
    """The folder of WordNet's database files; raises with an install hint when missing."""
    folder = Path(os.environ.get("IBVIEWER_WORDNET_DIR") or WORDNET_DIR)
    needed = [f"{kind}.{name}" for name in POS_FILES.values() for kind in ("data", "index")]
    if not all((folder / name).is_file() for name in needed):
        raise DatasetError(f"{INSTALL_HINT} (looked in {folder}).")
    return folder


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and inner apostrophes); numbers and punctuation dropped."""
    return _TOKEN.findall(text.lower())


def licence_text(folder: Path) -> str:
    """The licence header of ``data.noun`` (WordNet 3.0's licence), without line numbers."""
    lines = []
    with open(folder / "data.noun", encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("  "):
                break
            lines.append(re.sub(r"^\s+\d+\s?", "", line.rstrip()))
    return "\n".join(lines).strip() + "\n"


def _content_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("  "):
                yield line


@dataclass
class WordNet:
    """What the sample uses from WordNet.

    Attributes
    ----------
    glosses : list of str
        One entry per synset, in file order (noun, verb, adj, adv): the gloss text.
    synsets_of : dict
        lemma (lower case, single word) -> set of synset keys ``(pos, offset)``.
    tagged_count : dict
        ``(lemma, pos)`` -> how often its senses were tagged in WordNet's corpus
        (``tagsense_cnt``), plus 1 per sense so untagged words still rank.
    exceptions : dict
        ``(inflected form, pos)`` -> base forms from the ``*.exc`` files.
    """

    glosses: list[str] = field(default_factory=list)
    synsets_of: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    tagged_count: dict[tuple[str, str], int] = field(default_factory=dict)
    exceptions: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def lemmas(self, word: str) -> dict[str, list[str]]:
        """pos -> base forms of ``word`` found in WordNet (the word itself first, then morphy's)."""
        found: dict[str, list[str]] = {}
        for pos in POS_FILES:
            bases = []
            candidates = [word, *self.exceptions.get((word, pos), [])]
            candidates += [word[: -len(suffix)] + repl for suffix, repl in _RULES[pos] if word.endswith(suffix)]
            for base in candidates:
                if base and (base, pos) in self.tagged_count and base not in bases:
                    bases.append(base)
            if bases:
                found[pos] = bases
        return found

    def main_pos(self, word: str) -> str | None:
        """The word's most frequent part of speech (``n``/``v``/``a``/``r``), or None if not in WordNet."""
        best, best_count = None, -1
        for pos, bases in self.lemmas(word).items():
            # the surface form itself counts fully; a form reached through morphy ranks on its base
            count = max(self.tagged_count[(base, pos)] for base in bases)
            if count > best_count:
                best, best_count = pos, count
        return best

    def synsets(self, word: str) -> set[tuple[str, int]]:
        """Synset keys of every base form of ``word``."""
        keys: set[tuple[str, int]] = set()
        for pos, bases in self.lemmas(word).items():
            for base in bases:
                keys |= {key for key in self.synsets_of.get(base, ()) if key[0] == pos}
        return keys

    def base_forms(self, word: str) -> set[str]:
        return {base for bases in self.lemmas(word).values() for base in bases} | {word}

    def are_synonyms(self, word: str, other: str) -> bool:
        """True when two different lemmas share a synset (inflections of one lemma do not count)."""
        if self.base_forms(word) & self.base_forms(other):
            return False
        return bool(self.synsets(word) & self.synsets(other))

    def synonym_matrix(self, words: list[str]) -> np.ndarray:
        """(n_words, n_words) bool: ``are_synonyms`` for every pair of ``words``, computed through indexes."""
        n = len(words)
        matrix = np.zeros((n, n), dtype=bool)
        by_synset: dict[tuple[str, int], list[int]] = {}
        by_base: dict[str, list[int]] = {}
        for i, word in enumerate(words):
            for key in self.synsets(word):
                by_synset.setdefault(key, []).append(i)
            for base in self.base_forms(word):
                by_base.setdefault(base, []).append(i)
        for members in by_synset.values():
            idx = np.asarray(members)
            matrix[np.ix_(idx, idx)] = True
        for members in by_base.values():
            idx = np.asarray(members)
            matrix[np.ix_(idx, idx)] = False
        np.fill_diagonal(matrix, False)
        return matrix


def load_wordnet(folder: Path | None = None) -> WordNet:
    """Parse the data, index and exception files (about 2 s).

    Raises
    ------
    DatasetError
        WordNet is not installed (the message says how to install it).
    """
    folder = wordnet_dir() if folder is None else Path(folder)
    wn = WordNet()
    for pos, name in POS_FILES.items():
        for line in _content_lines(folder / f"data.{name}"):
            head, _, gloss = line.partition("|")
            fields = head.split()
            offset, n_words = int(fields[0]), int(fields[3], 16)
            for i in range(n_words):
                lemma = re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower()
                if "_" not in lemma:
                    wn.synsets_of.setdefault(lemma, set()).add((pos, offset))
            wn.glosses.append(gloss.strip())
        for line in _content_lines(folder / f"index.{name}"):
            fields = line.split()
            n_pointers = int(fields[3])
            sense_count, tagged = int(fields[4 + n_pointers]), int(fields[5 + n_pointers])
            wn.tagged_count[(fields[0], pos)] = tagged + sense_count
        exc = folder / f"{name}.exc"
        if exc.is_file():
            for line in _content_lines(exc):
                form, *bases = line.split()
                wn.exceptions[(form, pos)] = bases
    return wn


def gloss_sentences(gloss: str) -> list[list[str]]:
    """A gloss's definition and example sentences as token lists (split at ``;``, quotes removed)."""
    sentences = []
    for part in gloss.split(";"):
        tokens = tokenize(part.replace('"', " "))
        if tokens:
            sentences.append(tokens)
    return sentences
