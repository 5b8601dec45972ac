"""CLHG on Webis-CLS-10-layout data (books/dvd/music reviews; en train, de/fr/jp test and unlabeled).

    xlgraph train experiments/clhg/webis.py data.sources='["webis-cls:/data/webis-cls-10?domains=books"]'
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "clhg-webis"
    c.method = "clhg"
    c.workdir = "runs/clhg-webis"
    c.data.sources = ["webis-cls:data/webis-cls-10?domains=books"]
    c.tokens.max_length = 256
    c.tokens.buckets = (64, 128, 256)
    c.train.epochs = 2
    c.train.lr = 4e-5
    return c
