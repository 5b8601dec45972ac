"""MF-CNN (Mhamdi et al.; Kim 2014) on XLM-T tweet sentiment: convolutions of widths 3, 4, 5 × 200 filters over the
aligned word vectors, max-pooled → dropout 0.3. Data, modes and vectors as experiments/embeddings/xlmt_mlp.py.

    xlgraph train experiments/embeddings/xlmt_cnn.py
    xlgraph train experiments/embeddings/xlmt_cnn.py adversarial.enabled=true adversarial.epsilon=1.0  # + FGSM
"""

import experiments.embeddings.xlmt_mlp as _base  # configs import one another as modules (load_config)


def get_config():
    c = _base.get_config("cnn")
    c.train.epochs = 4
    return c
