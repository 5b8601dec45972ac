"""Adversarial (FGSM, ε = 1.0, per-example norm) fine-tuning on MTOD: English train, Spanish/Thai zero-shot.

    xlgraph train experiments/adversarial/mtod.py                        # + adversarial perturbation
    xlgraph train experiments/adversarial/mtod.py adversarial.control=true   # + random perturbation (control)
    xlgraph train experiments/adversarial/mtod.py adversarial.norm=table     # the official whole-table variant
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("finetune_mtod", Path(__file__).parents[1] / "finetune" / "mtod.py")
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config():
    c = _base.get_config()
    c.name = "adversarial-mtod"
    c.workdir = "runs/adversarial-mtod"
    c.adversarial.enabled = True
    c.adversarial.epsilon = 1.0
    return c
