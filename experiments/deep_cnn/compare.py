"""NCE against the full-softmax control, with random embeddings (the paper) and, given aligned vectors, with
embeddings initialised from them (frozen, and trained). Each variant is one `method=deep_cnn` run in
WORKDIR/<variant>; the table gives Jaccard (the paper's accuracy) / micro-F1 / macro-F1 (%) per language, source
dev first, then the languages unseen in training; with several --seeds, means (and the sd of Jaccard). The first
row is the constant label set with the best source-dev Jaccard: what a model that reads nothing scores.

    python experiments/deep_cnn/compare.py --workdir runs/deep_cnn-compare
    python experiments/deep_cnn/compare.py --workdir runs/deep_cnn-compare --vectors runs/vectors/procrustes \
        --vector-langs en,es --seeds 0,1,2 train.epochs=3 train.evals_per_epoch=2
    python experiments/deep_cnn/compare.py --workdir runs/x --resume      # keeps finished variants
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from xlgraph.config import apply_overrides, load_config
from xlgraph.errors import script_main
from xlgraph.eval.metrics import multilabel_metrics, per_language_multilabel
from xlgraph.eval.report import score_table
from xlgraph.methods.deep_cnn import load_data, train_and_evaluate
from xlgraph.progress import log_to_stderr
from xlgraph.runs import finished_results

DEFAULT_CONFIG = Path(__file__).with_name("mtod.py")


def variants(vectors: list[str]) -> dict[str, dict]:
    out = {f"{loss}, random emb.": {"deep_cnn.loss": loss, "embeddings.vectors": []} for loss in ("nce", "softmax")}
    if vectors:
        for loss in ("nce", "softmax"):
            for frozen in (True, False):
                out[f"{loss}, aligned emb. {'frozen' if frozen else 'trained'}"] = {
                    "deep_cnn.loss": loss, "embeddings.vectors": vectors, "deep_cnn.freeze_embeddings": frozen}
    return out


def constant_baseline(cfg) -> dict:
    """The reference a zero-shot model must beat: one label set for every document, the training set's label set
    with the best Jaccard on the selection data (source dev)."""
    data = load_data(cfg)
    candidates = np.unique(data.train.targets, axis=0)
    best = max(candidates, key=lambda c: multilabel_metrics(
        data.select.targets, np.broadcast_to(c, data.select.targets.shape))["jaccard"])

    def scores(part):
        per = per_language_multilabel(part.targets, np.broadcast_to(best, part.targets.shape), part.corpus.lang)
        return {lang: {**m, "accuracy": m["jaccard"]} for lang, m in per.items()}

    return {"per_language": scores(data.eval), "selection_per_language": scores(data.select),
            "unseen_langs": [lang for lang in data.eval.corpus.langs if lang not in set(data.train.corpus.langs)],
            "constant_set": [n for n, on in zip(data.train.names, best) if on]}


def table(results: dict[str, list[dict]]) -> str:
    """One row per variant, a column per language (source dev first): Jaccard / micro-F1 / macro-F1 (%), each the
    mean ± sd over its runs (seeds), through eval/report.score_table."""
    first = next(iter(results.values()))[0]
    columns = [f"{lang} (dev)" for lang in first["selection_per_language"]] + list(first["per_language"])
    rows = {variant: {**{f"{lang} (dev)": [r["selection_per_language"][lang] for r in runs]
                         for lang in first["selection_per_language"]},
                      **{lang: [r["per_language"][lang] for r in runs] for lang in first["per_language"]}}
            for variant, runs in results.items()}
    seeds = max(len(runs) for runs in results.values())
    return (f"Jaccard / micro-F1 / macro-F1 (%), mean ± sd of {seeds} seed(s); selected on source dev; unseen in "
            f"training: {', '.join(first['unseen_langs'])}\n"
            + score_table(rows, columns, metrics=("jaccard", "micro_f1", "macro_f1")))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="key=value config overrides for every variant")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--workdir", required=True)
    p.add_argument("--vectors", help="folder of aligned vectors LANG.vec (e.g. runs/vectors/procrustes)")
    p.add_argument("--vector-langs", default="en,es", help="languages to take from --vectors (default en,es)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds; each variant runs once per seed")
    p.add_argument("--resume", action="store_true",
                   help="keep variants whose results.json exists, continue interrupted ones from their checkpoints")
    args = p.parse_intermixed_args(argv)
    log_to_stderr()
    vectors = []
    if args.vectors:
        for lang in args.vector_langs.split(","):
            path = Path(args.vectors) / f"{lang}.vec"
            if not path.is_file():
                p.error(f"{path}: no such vector file")
            vectors.append(f"{lang}={path}")
    base_cfg = load_config(args.config)
    apply_overrides(base_cfg, args.overrides)
    constant = constant_baseline(base_cfg)
    results = {f"constant {{{', '.join(constant['constant_set'])}}}": [constant]}
    for name, settings in variants(vectors).items():
        results[name] = []
        for seed in map(int, args.seeds.split(",")):
            workdir = Path(args.workdir) / name.replace(", ", "-").replace(" ", "_").replace(".", "") / f"seed{seed}"
            if args.resume and (done := finished_results(workdir)) is not None:
                results[name].append(done)
                continue
            cfg = load_config(args.config)
            apply_overrides(cfg, args.overrides)
            for key, value in settings.items():
                section, leaf = key.split(".")
                cfg[section][leaf] = value
            cfg.seed = seed
            logging.info("variant %s, seed %d -> %s", name, seed, workdir)
            results[name].append(train_and_evaluate(cfg, workdir, resume=args.resume))
    text = table(results)
    Path(args.workdir, "comparison.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    sys.exit(script_main(main))
