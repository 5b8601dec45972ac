"""The CLHG ablations in the paper's Table 4 layout: word-doc only, + POS types, + translation, + similarity,
+ unlabeled (each adds to the previous), beside the fine-tuned baseline; accuracy / macro-F1 per language.

    python experiments/clhg/ablation.py experiments/clhg/mtod.py --workdir runs/clhg-ablation [k=v ...]
    python experiments/clhg/ablation.py demo --workdir runs/clhg-ablation-sample clhg.epochs=15
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from xlgraph.config import apply_overrides, demo_config, load_config
from xlgraph.methods.clhg import train_and_evaluate

STEPS = [
    ("word-doc only", dict(pos_types=False, translation=False, similarity=False, unlabeled=False)),
    ("+ POS types", dict(pos_types=True, translation=False, similarity=False, unlabeled=False)),
    ("+ translation", dict(pos_types=True, translation=True, similarity=False, unlabeled=False)),
    ("+ similarity", dict(pos_types=True, translation=True, similarity=True, unlabeled=False)),
    ("+ unlabeled", dict(pos_types=True, translation=True, similarity=True, unlabeled=True)),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="a config file, or 'demo' for the embedded sample")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--workdir", required=True)
    args = p.parse_intermixed_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("absl", "orbax", "jax._src.xla_bridge"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    rows, baseline = {}, None
    for i, (name, switches) in enumerate(STEPS):
        out = Path(args.workdir) / f"step{i}"
        if (out / "results.json").exists():
            r = json.loads((out / "results.json").read_text())
        else:
            cfg = demo_config() if args.config == "demo" else load_config(args.config)
            cfg.method = "clhg"
            apply_overrides(cfg, args.overrides)
            for k, v in switches.items():
                cfg.clhg[k] = v
            r = train_and_evaluate(cfg, out)
        rows[name] = r["per_language"]
        baseline = baseline or r["baseline"]["per_language"]
    langs = sorted(baseline)
    print("\naccuracy / macro-F1 (%); checkpoints selected on source dev (zero-shot)")
    print(f"{'':22}" + "".join(f"{lang:>16}" for lang in langs))
    for name, per in {"fine-tuned encoder": baseline, **rows}.items():
        print(f"{name:22}" + "".join(f"{100 * per[l]['accuracy']:7.1f} / {100 * per[l]['macro_f1']:5.1f}"
                                     for l in langs))


if __name__ == "__main__":
    sys.exit(main())
