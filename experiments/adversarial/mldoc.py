"""Adversarial (FGSM) fine-tuning on MLDoc-layout data; ε = 1.0 (the paper uses 10 for Japanese:
`adversarial.epsilon=10`).

    xlgraph train experiments/adversarial/mldoc.py data.sources='["mldoc:/data/mldoc?train_size=1000"]'
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("finetune_mldoc", Path(__file__).parents[1] / "finetune" / "mldoc.py")
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config():
    c = _base.get_config()
    c.name = "adversarial-mldoc"
    c.workdir = "runs/adversarial-mldoc"
    c.adversarial.enabled = True
    c.adversarial.epsilon = 1.0
    return c
