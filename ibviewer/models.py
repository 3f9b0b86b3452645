"""Model factories that run manifests name as ``"ibviewer.models:<callable>"``.

Each factory takes JSON-friendly keyword arguments and returns a fresh
``torch.nn.Module``. The hidden representations are leaf activation modules
(``Tanh``/``ReLU``) after each linear layer, so ibviewer captures them by default.
No Qt here; torch is imported at the top because this module is only imported
when a model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from ibviewer.errors import ModelFactoryError

__all__ = ["MLP", "mlp", "WordLM", "word_lm", "ACTIVATIONS", "PAD_ID", "UNK_ID"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}

#: Token id of padding (its embedding is fixed at zero) and of out-of-vocabulary words in :class:`WordLM`.
PAD_ID = 0
UNK_ID = 1


class MLP(nn.Module):
    """A fully connected network: ``net`` = Linear, act, Linear, act, ..., Linear.

    With ``sizes = [64, 64, 32, 16, 10]`` the modules are ``net.0`` (Linear
    64->64), ``net.1`` (the first hidden representation), ``net.2``, ``net.3``,
    ``net.4``, ``net.5`` (the last hidden representation) and ``net.6`` (the
    output logits). Hidden representation ``k`` (1-based) is ``net.{2k-1}``.
    """

    def __init__(self, sizes: Sequence[int], activation: Literal["tanh", "relu"] = "tanh") -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.sizes = tuple(sizes)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))

    def hidden_layer_names(self) -> list[str]:
        """Module names of the hidden representations, input side first."""
        return [f"net.{2 * k + 1}" for k in range(len(self.sizes) - 2)]


def mlp(sizes: Sequence[int], activation: Literal["tanh", "relu"] = "tanh") -> MLP:
    """A fully connected classifier with a non-linearity after every hidden layer.

    Parameters
    ----------
    sizes : list of int
        Layer widths from input to output, e.g. ``[64, 64, 32, 16, 10]``: 64
        inputs, hidden layers of 64, 32 and 16 units, 10 output logits. At least
        two entries; the output layer has no non-linearity (train with
        ``CrossEntropyLoss``).
    activation : {"tanh", "relu"}, default="tanh"
        The hidden non-linearity.

    Returns
    -------
    MLP
        The module; hidden representations are ``net.1``, ``net.3``, ...

    Raises
    ------
    ModelFactoryError
        Fewer than two sizes, a size below 1 or an unknown activation.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ModelFactoryError(f"mlp needs at least two positive layer sizes (input and output), got {sizes}.")
    if activation not in ACTIVATIONS:
        raise ModelFactoryError(f"mlp activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    return MLP(sizes, activation)


class WordLM(nn.Module):
    """A feed-forward word-level language model (Bengio et al. 2003 style).

    ``embed`` (token ids -> vectors; padding id 0 is the zero vector) ->
    flatten the context -> ``fc1`` + ``act1`` -> ``fc2`` + ``act2`` -> ``out``
    (logits over the vocabulary) -> ``log_softmax``. The forward pass returns
    log-probabilities of the next word, shape (batch, vocab_size); train with
    ``NLLLoss``.
    """

    def __init__(self, vocab_size: int, context: int, embed_dim: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.fc1 = nn.Linear(context * embed_dim, hidden)
        self.act1 = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden, hidden)
        self.act2 = ACTIVATIONS[activation]()
        self.out = nn.Linear(hidden, vocab_size)
        self.log_softmax = nn.LogSoftmax(dim=-1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim == 1:
            tokens = tokens.unsqueeze(0)
        vectors = self.embed(tokens.long()).flatten(1)
        hidden = self.act2(self.fc2(self.act1(self.fc1(vectors))))
        return self.log_softmax(self.out(hidden))


def word_lm(
    vocab_size: int,
    context: int = 4,
    embed_dim: int = 32,
    hidden: int = 128,
    activation: Literal["tanh", "relu"] = "tanh",
) -> WordLM:
    """A small word-level language model: embedding, two hidden layers, softmax over the vocabulary.

    Parameters
    ----------
    vocab_size : int
        Number of token ids, including the padding id 0 and the unknown-word id 1.
    context : int, default=4
        Number of preceding tokens the model reads; input shape (batch, context),
        int64 token ids. Shorter contexts are left-padded with id 0.
    embed_dim : int, default=32
        Size of each word vector.
    hidden : int, default=128
        Width of both hidden layers.
    activation : {"tanh", "relu"}, default="tanh"
        The hidden non-linearity.

    Returns
    -------
    WordLM
        Hidden representations are ``embed``, ``act1`` and ``act2``; the output is
        log-probabilities over the vocabulary.

    Raises
    ------
    ModelFactoryError
        A size below 1 (or a vocabulary without room for the two special ids).
    """
    sizes = {"context": context, "embed_dim": embed_dim, "hidden": hidden}
    bad = {k: v for k, v in sizes.items() if int(v) < 1}
    if bad or int(vocab_size) < 3:
        raise ModelFactoryError(
            f"word_lm needs vocab_size >= 3 and positive sizes, got vocab_size={vocab_size}, {sizes}."
        )
    if activation not in ACTIVATIONS:
        raise ModelFactoryError(f"word_lm activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    return WordLM(int(vocab_size), int(context), int(embed_dim), int(hidden), activation)
