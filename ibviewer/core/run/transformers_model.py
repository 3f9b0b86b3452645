"""Building a transformers model from a checkpoint's ``config.json``, never with code from the folder.

``config.json`` names a ``model_type`` (``"bert"``) and ``architectures``
(``["BertForSequenceClassification"]``). When ``transformers`` is installed, the model is
the class of that name in the ``transformers`` package, built from the config with random
weights and then given the checkpoint's weights. A config that needs custom code
(``auto_map``, or a type or class ``transformers`` does not ship) is refused: that code
would come from the folder or the hub (``trust_remote_code``), so the user must pass their
own ``--model`` instead.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibviewer.core.checkpoint import apply_state_dict
from ibviewer.core.progress import NULL_PROGRESS, Progress
from ibviewer.core.run.checkpoints import ModelFactory
from ibviewer.errors import ModelFactoryError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["transformers_installed", "architecture", "ConfigFactory", "load_transformers_weights"]

_OWN_MODEL = "pass --model MODULE:CALLABLE (a factory building the model) to open it"


def transformers_installed() -> bool:
    """Whether the ``transformers`` package can be imported (without importing it)."""
    return importlib.util.find_spec("transformers") is not None


def architecture(config: object, where: Path) -> str:
    """The model class ``config.json`` names, after checking it needs no custom code.

    Raises
    ------
    ModelFactoryError
        Not a config, no ``architectures``, or custom code needed (``auto_map``).
    """
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise ModelFactoryError(f"{where} is not a transformers config (no \"model_type\"); {_OWN_MODEL}.")
    if config.get("auto_map"):
        raise ModelFactoryError(
            f"{where} needs custom model code (\"auto_map\": {sorted(config['auto_map'])}); ibviewer never runs code "
            f"from a model folder (no trust_remote_code). Install that code as a package and {_OWN_MODEL}."
        )
    names = config.get("architectures")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelFactoryError(f"{where} names no \"architectures\", so the model class is unknown; {_OWN_MODEL}.")
    name = names[0]
    if not name.isidentifier() or name.startswith("_"):
        raise ModelFactoryError(f"{where} names the architecture {name!r}, which is not a class name; {_OWN_MODEL}.")
    return name


@dataclass(frozen=True)
class ConfigFactory(ModelFactory):
    """Builds the ``transformers`` class a ``config.json`` names (``spec`` describes it for people).

    ``kwargs`` stays empty: the config is the model's only argument.
    """

    config: Mapping[str, Any] = field(default_factory=dict)
    where: Path = Path("config.json")

    @classmethod
    def from_config(cls, config: object, where: Path) -> ConfigFactory:
        name = architecture(config, where)
        assert isinstance(config, dict)
        return cls(spec=f"transformers {name} (from {where.name})", config=dict(config), where=where)

    @property
    def call(self) -> None:  # type: ignore[override]
        """Nothing the folder names is imported: ``build`` uses a model class transformers itself ships."""
        return None

    def source_digest(self, progress: Progress = NULL_PROGRESS) -> str:
        """The config's digest and the transformers version (what decides the network's code)."""
        import hashlib
        import json

        version = importlib.metadata.version("transformers") if transformers_installed() else ""
        described = json.dumps({"config": self.config, "transformers": version}, sort_keys=True, default=str)
        return hashlib.sha256(described.encode()).hexdigest()

    def build(self) -> nn.Module:
        if not transformers_installed():
            raise ModelFactoryError(
                f"{self.where} describes a transformers model, but transformers is not installed: "
                f"pip install transformers, or {_OWN_MODEL}."
            )
        import transformers

        name = architecture(self.config, self.where)
        model_type = str(self.config["model_type"])
        if model_type not in transformers.CONFIG_MAPPING:
            raise ModelFactoryError(
                f"{self.where} has model_type {model_type!r}, which this transformers {transformers.__version__} does "
                f"not ship (it would need remote code); upgrade transformers or {_OWN_MODEL}."
            )
        model_class = getattr(transformers, name, None)
        if not isinstance(model_class, type) or not issubclass(model_class, transformers.PreTrainedModel):
            raise ModelFactoryError(
                f"{self.where} names the architecture {name!r}, which is not a model class of transformers "
                f"{transformers.__version__}; upgrade transformers or {_OWN_MODEL}."
            )
        try:
            config = transformers.CONFIG_MAPPING[model_type].from_dict(dict(self.config))
            model = model_class(config)
        except Exception as exc:  # a config this transformers cannot build: say so in one line
            raise ModelFactoryError(
                f"transformers could not build {name} from {self.where} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); {_OWN_MODEL}."
            ) from exc
        return model.float().eval()


def load_transformers_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: Path) -> None:
    """Load a checkpoint's weights into a transformers model, allowing the tied weights it leaves out.

    transformers saves a tied weight (an LM head sharing the input embeddings) once, under
    its source name; the tied copy is filled from the model itself, which shares the tensor.

    Raises
    ------
    ModelMismatchError
        Any other missing, unexpected or misshapen weight (see ``apply_state_dict``).
    """
    state = dict(state)
    own = model.state_dict()
    tied = getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {}
    targets = dict(tied) if isinstance(tied, Mapping) else dict.fromkeys(tied)
    for target, origin in targets.items():
        if target in own and target not in state:
            state[target] = state[origin] if origin in state else own[target]
    apply_state_dict(model, state, source)
    tie = getattr(model, "tie_weights", None)
    if callable(tie):
        tie()
    model.eval()
