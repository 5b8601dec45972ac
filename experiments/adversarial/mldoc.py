"""Adversarial (FGSM) fine-tuning on MLDoc-layout data; ε = 1.0 (the paper uses 10 for Japanese:
`adversarial.epsilon=10`).

    xlgraph train experiments/adversarial/mldoc.py data.sources='["mldoc:/data/mldoc?train_size=1000"]'
"""

import experiments.finetune.mldoc as _base  # configs import one another as modules (load_config)


def get_config():
    c = _base.get_config()
    c.name = "adversarial-mldoc"
    c.workdir = "runs/adversarial-mldoc"
    c.adversarial.enabled = True
    c.adversarial.epsilon = 1.0
    return c
