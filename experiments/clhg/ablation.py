"""The CLHG ablations in the paper's Table 4 layout: word-doc only, + POS types, + translation, + similarity,
+ unlabeled (each adds to the previous), beside the fine-tuned baseline; accuracy / macro-F1 per language.
The encoder is fine-tuned and the node features computed once (in WORKDIR); each variant builds its graph and
trains its GCN in WORKDIR/step{i}. Rerun with --resume to keep what is done.

    python experiments/clhg/ablation.py experiments/clhg/mtod.py --workdir runs/clhg-ablation [k=v ...]
    python experiments/clhg/ablation.py demo --workdir runs/clhg-ablation-sample clhg.epochs=15
"""

import argparse
import sys

from xlgraph.config import apply_overrides, demo_config, load_config
from xlgraph.errors import script_main
from xlgraph.eval.report import score_table
from xlgraph.methods.clhg import ablation
from xlgraph.progress import log_to_stderr

STEPS = [
    ("word-doc only", dict(pos_types=False, translation=False, similarity=False, unlabeled=False)),
    ("+ POS types", dict(pos_types=True, translation=False, similarity=False, unlabeled=False)),
    ("+ translation", dict(pos_types=True, translation=True, similarity=False, unlabeled=False)),
    ("+ similarity", dict(pos_types=True, translation=True, similarity=True, unlabeled=False)),
    ("+ unlabeled", dict(pos_types=True, translation=True, similarity=True, unlabeled=True)),
]


def table(results: dict[str, dict]) -> str:
    baseline = next(iter(results.values()))["baseline"]["per_language"]
    rows = {"fine-tuned encoder": baseline, **{k: r["per_language"] for k, r in results.items()}}
    return ("accuracy / macro-F1 (%); checkpoints selected on source dev (zero-shot)\n"
            + score_table(rows, list(baseline)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="a config file, or 'demo' for the embedded sample")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--workdir", required=True)
    p.add_argument("--resume", action="store_true", help="keep the fine-tuned encoder and finished variants")
    args = p.parse_intermixed_args(argv)
    log_to_stderr()
    cfg = demo_config() if args.config == "demo" else load_config(args.config)
    cfg.method = "clhg"
    apply_overrides(cfg, args.overrides)
    print("\n" + table(ablation(cfg, STEPS, args.workdir, resume=args.resume)))


if __name__ == "__main__":
    sys.exit(script_main(main))
