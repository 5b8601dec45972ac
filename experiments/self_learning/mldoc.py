"""Self-learning on MLDoc-layout data (Kt = 40-50 in the papers; 40 here): English train.1000, the target
languages' unlabeled documents as the pool. MLDoc itself is not redistributable; point DATA at your copy
(`english.train.1000`, `german.test`, …) and give the pool as `split=unlabeled` documents:

    xlgraph train experiments/self_learning/mldoc.py model.name=/models/xlm-roberta-base \
        data.sources='["mldoc:/data/mldoc?train_size=1000", "mldoc:/data/mldoc-unlabeled?split=unlabeled"]'
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "self-learning-mldoc"
    c.method = "self_learning"
    c.workdir = "runs/self-learning-mldoc"
    c.data.sources = ["mldoc:data/mldoc?train_size=1000"]
    c.tokens.max_length = 256
    c.tokens.buckets = (64, 128, 256)
    c.train.epochs = 3
    c.train.lr = 2e-5
    c.self_learning.per_class = 40
    c.self_learning.rounds = 5
    return c
