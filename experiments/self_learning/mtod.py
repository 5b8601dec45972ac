"""Self-learning on MTOD intents (Dong & de Melo 2019 setup, Kt = 30 for intents): train on English, pseudo-label
the Spanish and Thai training utterances as an unlabeled pool (their gold labels are used only to report the
precision of the pseudo-labels), select on English dev (zero-shot), evaluate Spanish and Thai test.

    xlgraph train experiments/self_learning/mtod.py model.name=/models/xlm-roberta-base
    xlgraph train experiments/self_learning/mtod.py adversarial.enabled=true      # + FGSM (ε = 1)
"""

from xlgraph.config import default_config

MTOD = "../shared/data/mtod"


def get_config():
    c = default_config()
    c.name = "self-learning-mtod"
    c.method = "self_learning"
    c.workdir = "runs/self-learning-mtod"
    c.data.sources = [f"mtod:{MTOD}?langs=en", f"mtod:{MTOD}?langs=es,th&splits=dev,test",
                      f"mtod:{MTOD}?langs=es,th&splits=train&split=unlabeled"]
    c.tokens.max_length = 64
    c.tokens.buckets = (16, 32, 64)
    c.train.epochs = 2
    c.train.lr = 5e-5
    c.train.evals_per_epoch = 2
    c.self_learning.per_class = 30
    c.self_learning.rounds = 5
    return c
