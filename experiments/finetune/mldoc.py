"""MLDoc-layout data (Schwenk & Li 2018; files english.train.1000, german.test, ...), 4 classes.

MLDoc itself is built from RCV1/RCV2 and is not redistributable; point data.sources at your copy:
    xlgraph train experiments/finetune/mldoc.py --data mldoc:/path/to/mldoc model.name=bert-base-multilingual-cased
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "finetune-mldoc"
    c.workdir = "runs/finetune-mldoc"
    c.data.sources = ["mldoc:data/mldoc?train_size=1000"]
    c.tokens.max_length = 128
    c.tokens.buckets = (64, 128)
    c.train.epochs = 4
    c.train.lr = 4e-5
    return c
