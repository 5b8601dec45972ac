"""CLHG on MTOD intents: English train, Spanish/Thai test and their training utterances as the unlabeled pool.
Taggers: train them once (`xlgraph pos train ../shared/data/ud_pos/UD_Spanish-GSD/es_gsd-ud-dev.conllu
runs/pos-es --lang es`) and pass `clhg.taggers='["es=runs/pos-es"]'`; untagged languages get one relation.

    xlgraph train experiments/clhg/mtod.py model.name=/models/xlm-roberta-base
"""

import experiments.self_learning.mtod as _base  # configs import one another as modules (load_config)


def get_config():
    c = _base.get_config()  # the same data layout: en train/dev, es/th dev/test, es/th train as unlabeled
    c.name = "clhg-mtod"
    c.method = "clhg"
    c.workdir = "runs/clhg-mtod"
    c.train.epochs = 2  # the official code fine-tunes 2 epochs, lr 4e-5, batch 32
    c.train.lr = 4e-5
    return c
