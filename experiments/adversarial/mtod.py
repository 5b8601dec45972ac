"""Adversarial (FGSM, ε = 1.0, per-example norm) fine-tuning on MTOD: English train, Spanish/Thai zero-shot.

    xlgraph train experiments/adversarial/mtod.py                        # + adversarial perturbation
    xlgraph train experiments/adversarial/mtod.py adversarial.control=true   # + random perturbation (control)
    xlgraph train experiments/adversarial/mtod.py adversarial.norm=table     # the official whole-table variant
"""

import experiments.finetune.mtod as _base  # configs import one another as modules (load_config)


def get_config():
    c = _base.get_config()
    c.name = "adversarial-mtod"
    c.workdir = "runs/adversarial-mtod"
    c.adversarial.enabled = True
    c.adversarial.epsilon = 1.0
    return c
