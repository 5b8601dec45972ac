"""The classic CLTC models over (aligned multilingual) word embeddings, by name: `method=embeddings` builds them
with `build_text_model`, and `frozen_mask` tells the optimizer which parameters to leave alone.

Every model is `Model(embeddings (V, D) float32 with row 0 = padding, num_labels, *, freeze=True, rngs,
**hyper-parameters)` with `__call__` → logits, `features` → the vector before the output layer and
`embedding_table`, the contract of `models/embedding.TextClassifier`.
"""

from __future__ import annotations

import inspect

import numpy as np
from flax import nnx

from xlgraph.errors import XlgraphError
from xlgraph.models.cnn import CNNClassifier
from xlgraph.models.embedding import TextClassifier, frozen_mask
from xlgraph.models.mlp import MLPClassifier
from xlgraph.models.rnn import GRUClassifier, HANClassifier

__all__ = ["TEXT_MODELS", "build_text_model", "frozen_mask", "hyperparameters"]

TEXT_MODELS: dict[str, type[TextClassifier]] = {
    "mlp": MLPClassifier,  # FT-MLP
    "cnn": CNNClassifier,  # MF-CNN
    "gru": GRUClassifier,  # bi-GRU-Att
    "han": HANClassifier,  # HAN (+ sentence alignment through `sentence_vector`)
}

_CONTRACT = ("self", "embeddings", "num_labels", "freeze", "rngs")


def hyperparameters(name: str) -> dict:
    """The hyper-parameters of model `name` and their defaults."""
    return {p.name: p.default for p in inspect.signature(_model(name).__init__).parameters.values()
            if p.name not in _CONTRACT}


def build_text_model(name: str, embeddings: np.ndarray, num_labels: int, *, freeze: bool = True,
                     rngs: nnx.Rngs, **hparams) -> TextClassifier:
    """`TEXT_MODELS[name](embeddings, num_labels, freeze=freeze, rngs=rngs, **hparams)`, refusing an unknown
    hyper-parameter by name (instead of a TypeError)."""
    known = hyperparameters(name)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        listed = ", ".join(f"{k}={v!r}" for k, v in known.items())
        raise XlgraphError(f"unknown hyper-parameter(s) {', '.join(unknown)} for text model {name!r}; "
                           f"it takes: {listed}")
    if num_labels < 1:
        raise XlgraphError(f"text model {name!r} needs num_labels ≥ 1, got {num_labels}")
    return TEXT_MODELS[name](embeddings, num_labels, freeze=freeze, rngs=rngs, **hparams)


def _model(name: str) -> type[TextClassifier]:
    if name not in TEXT_MODELS:
        raise XlgraphError(f"unknown text model {name!r}; choose one of: {', '.join(TEXT_MODELS)}")
    return TEXT_MODELS[name]
