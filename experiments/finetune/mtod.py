"""MTOD intents (Schuster et al. 2019): train on English, evaluate Spanish and Thai zero-shot.

    xlgraph train experiments/finetune/mtod.py model.name=xlm-roberta-base
"""

from xlgraph.config import default_config


def get_config():
    c = default_config()
    c.name = "finetune-mtod"
    c.workdir = "runs/finetune-mtod"
    c.data.sources = ["mtod:../shared/data/mtod"]
    c.tokens.max_length = 64
    c.tokens.buckets = (16, 32, 64)
    c.train.epochs = 2
    c.train.lr = 5e-5
    c.train.evals_per_epoch = 4
    return c
