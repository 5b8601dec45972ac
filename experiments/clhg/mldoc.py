"""CLHG on MLDoc-layout data (english.train.1000, target test sets; add an unlabeled pool with split=unlabeled).

    xlgraph train experiments/clhg/mldoc.py data.sources='["mldoc:/data/mldoc?train_size=1000"]'
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "clhg-mldoc"
    c.method = "clhg"
    c.workdir = "runs/clhg-mldoc"
    c.data.sources = ["mldoc:data/mldoc?train_size=1000"]
    c.tokens.max_length = 128
    c.tokens.buckets = (64, 128)
    c.train.epochs = 2
    c.train.lr = 4e-5
    return c
