"""The deep CNN on multi-label MTOD: label set = intent domain + slot types; trained on English (en/test, the
English file with slot annotations), selected on English dev, scored on Spanish and Thai test (unseen languages).

    xlgraph train experiments/deep_cnn/mtod.py                                   # NCE, random embeddings
    xlgraph train experiments/deep_cnn/mtod.py deep_cnn.loss=softmax             # the full-softmax control
    xlgraph train experiments/deep_cnn/mtod.py 'embeddings.vectors=["en=runs/vectors/procrustes/en.vec",\
"es=runs/vectors/procrustes/es.vec"]' deep_cnn.freeze_embeddings=true          # aligned vectors
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "deep_cnn-mtod"
    c.method = "deep_cnn"
    c.workdir = "runs/deep_cnn-mtod"
    c.data.sources = ["mtod:../shared/data/mtod?targets=domain+slots"]  # or targets=slots: no domain label
    c.select.metric = "jaccard"
    c.train.log_every = 50
    c.train.lr, c.train.batch_size, c.train.epochs = 1e-3, 35, 5  # Adam, as in the paper (no schedule)
    c.train.eval_batch_size = 256
    return c
