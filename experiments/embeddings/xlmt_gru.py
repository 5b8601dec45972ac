"""bi-GRU-Att (Mhamdi et al.) on XLM-T tweet sentiment: a bidirectional GRU (150 units per direction) with additive
attention over the aligned word vectors → dropout 0.3. Data, modes and vectors as experiments/embeddings/xlmt_mlp.py.

    xlgraph train experiments/embeddings/xlmt_gru.py
"""

import experiments.embeddings.xlmt_mlp as _base  # configs import one another as modules (load_config)


def get_config():
    c = _base.get_config("gru")
    c.train.epochs = 4
    return c
