"""bi-GRU-Att (Mhamdi et al.) on XLM-T tweet sentiment: a bidirectional GRU (150 units per direction) with additive
attention over the aligned word vectors → dropout 0.3. Data, modes and vectors as experiments/embeddings/xlmt_mlp.py.

    xlgraph train experiments/embeddings/xlmt_gru.py
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("embeddings_xlmt_mlp", Path(__file__).with_name("xlmt_mlp.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config():
    c = _base.get_config("gru")
    c.train.epochs = 4
    return c
