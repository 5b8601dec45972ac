"""The papers' results layout: baseline, + random perturbation, + adversarial perturbation, + self-learning,
+ adversarial + self-learning, and CLHG, from one base config; accuracy / macro-F1 per language, and the
pseudo-label precision of each self-learning round. Each variant is a run under WORKDIR/VARIANT, or with several
--seeds under WORKDIR/seed{N}/VARIANT (reused if finished); with several seeds the table is mean ± sd over them.
The clhg variant's run holds its own fine-tuned baseline (same seed and settings as the baseline variant), so a
baseline run that is not there yet is taken from it rather than trained twice. Likewise a self-learning run's
round 0 is the finished baseline's (or clhg's) fine-tuning, and adversarial + self-learning's the adversarial
variant's, when their settings match: the checkpoints are copied and the run resumes from them.

    python experiments/adversarial/table.py experiments/self_learning/mtod.py --workdir runs/table-mtod
    python experiments/adversarial/table.py demo data.max_train=1000 train.epochs=2 self_learning.rounds=3 \
        --workdir runs/table-sample --codeswitch es,de      # + the code-switching test (paper Table 4)
    python experiments/adversarial/table.py demo data.max_train=1000 train.epochs=2 self_learning.rounds=2 \
        --workdir runs/table-e5 --seeds 0,1,2 --variants clhg,baseline,random,adversarial,self_learning,both

With --codeswitch, every variant's selected checkpoint is also scored on the English evaluation documents
(test if the data has English test, else dev) with their words replaced by MUSE dictionary translations
(../shared/data/muse_dicts/full/en-XX.txt).
"""

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np

from xlgraph.config import apply_overrides, demo_config, load_config, to_json
from xlgraph.errors import script_main
from xlgraph.eval.report import score_table
from xlgraph.methods import METHODS
from xlgraph.progress import log_to_stderr
from xlgraph.runs import RunDir, config_changes, finished_results, read_json

log = logging.getLogger("xlgraph")

VARIANTS = {
    "baseline": dict(method="finetune", adversarial=False, control=False),
    "random": dict(method="finetune", adversarial=True, control=True),
    "adversarial": dict(method="finetune", adversarial=True, control=False),
    "self_learning": dict(method="self_learning", adversarial=False, control=False),
    "both": dict(method="self_learning", adversarial=True, control=False),
    "clhg": dict(method="clhg", adversarial=False, control=False),
    # compositions none of the papers has: FGSM on the GCN's input rows, pseudo-labelled target documents as
    # labelled nodes, both (the fine-tuned encoder under them stays the plain baseline)
    "clhg_adversarial": dict(method="clhg", adversarial=False, control=False, clhg_adversarial=True),
    "clhg_self_learning": dict(method="clhg", adversarial=False, control=False, clhg_self_learning=True),
    "clhg_both": dict(method="clhg", adversarial=False, control=False, clhg_adversarial=True,
                      clhg_self_learning=True),
}
NAMES = {"baseline": "baseline", "random": "+ random perturbation", "adversarial": "+ adversarial perturbation",
         "self_learning": "+ self-learning", "both": "+ adversarial + self-learning",
         "clhg": "CLHG", "clhg_adversarial": "CLHG + adversarial", "clhg_self_learning": "CLHG + self-learning",
         "clhg_both": "CLHG + adversarial + self-learning"}


def config_for(base: str, overrides, variant: str, seed: int | None = None):
    cfg = demo_config() if base == "demo" else load_config(base)
    apply_overrides(cfg, overrides)
    if seed is not None:
        cfg.seed = seed
    v = VARIANTS[variant]
    cfg.method, cfg.adversarial.enabled, cfg.adversarial.control = v["method"], v["adversarial"], v["control"]
    cfg.clhg.adversarial = v.get("clhg_adversarial", False)
    cfg.clhg.self_learning = v.get("clhg_self_learning", False)
    cfg.name = f"{cfg.name}-{variant}"
    return cfg


def run_variant(base, overrides, variant, workdir: Path, seed: int | None = None) -> dict:
    out = workdir / variant
    if (done := finished_results(out)) is not None:
        return done
    if variant == "baseline" and (clhg := finished_results(workdir / "clhg")) is not None:
        return {"method": "finetune", **clhg["baseline"], "wall_time_s": clhg.get("baseline_wall_time_s"),
                "from": str(workdir / "clhg")}
    cfg = config_for(base, overrides, variant, seed)
    shared = workdir / "clhg"
    if variant.startswith("clhg_") and (shared / "ckpt" / "finetune").exists() and not (out / "ckpt").exists():
        # the CLHG variants share the clhg run's fine-tuned encoder (same seed and settings) and its graph: they
        # start from a copy of them, so only the GCN is trained
        out.mkdir(parents=True, exist_ok=True)
        for name in ("graph.npz", "node_features.npy", "node_features.json"):
            shutil.copy2(shared / name, out / name)
        copy_data_fingerprint(shared, out)
        shutil.copytree(shared / "ckpt" / "finetune", out / "ckpt" / "finetune")
        RunDir(out).save_config(cfg)  # a started run of this variant's settings, which the resume continues
    if variant in ROUND0_FROM and not (out / "config.json").exists():
        seed_round0(cfg, variant, workdir, out)
    if not (out / "config.json").exists():
        return METHODS[cfg.method]()(cfg, out)
    # a started run (interrupted, or a copy of a shared encoder or round 0): resume it; the resume refuses other
    # settings or other data, each in one line
    results = METHODS[cfg.method]()(cfg, out, resume=True)
    if (out / "round0_from.json").exists():
        results = {**results, "round0_from": json.loads((out / "round0_from.json").read_text())}
    return results


# a self-learning run's round 0 is its plain fine-tuning: the same steps as the baseline's (or, with FGSM, the
# adversarial variant's) run of the same seed and settings, whose checkpoints it starts from rather than training
# them again
ROUND0_FROM = {"self_learning": (("baseline", "ckpt"), ("clhg", "ckpt/finetune")), "both": (("adversarial", "ckpt"),)}


def copy_data_fingerprint(source: Path, out: Path) -> None:
    """The borrowed run's data.json (when it has one): the resume then refuses data other than that run's."""
    if (source / "data.json").exists():
        shutil.copy2(source / "data.json", out / "data.json")


def seed_round0(cfg, variant: str, workdir: Path, out: Path) -> None:
    for source, ckpt in ROUND0_FROM[variant]:
        done = workdir / source
        if finished_results(done) is None or not (done / ckpt).is_dir():
            continue
        changed = [c for c in config_changes(read_json(done / "config.json"), json.loads(to_json(cfg)))
                   if c.split(":")[0] not in ("method", "name", "workdir")
                   and not c.startswith(("clhg.", "self_learning."))]  # none of these is round 0's business
        if changed:
            log.info("%s: round 0 not taken from %s, whose settings differ (%s)", variant, done, "; ".join(changed))
            continue
        log.info("%s: round 0 is %s's fine-tuning (same seed and settings): its checkpoints are copied", variant, done)
        shutil.copytree(done / ckpt, out / "ckpt" / "round0")
        copy_data_fingerprint(done, out)
        results = finished_results(done)
        wall = results.get("baseline_wall_time_s") if source == "clhg" else results.get("wall_time_s")
        (out / "round0_from.json").write_text(json.dumps({"run": str(done), "wall_time_s": wall}) + "\n")
        RunDir(out).save_config(cfg)
        return


def summarise(per_seed: list[dict]) -> dict:
    """{variant: {lang: {metric: (mean, sd)}}} over seeds (sd 0 for one seed), plus the mean wall time."""
    out = {}
    for v in per_seed[0]:
        runs = [s[v] for s in per_seed]
        langs = runs[0]["per_language"]
        out[v] = {lang: {m: (float(np.mean(x)), float(np.std(x, ddof=1)) if len(x) > 1 else 0.0)
                         for m in ("accuracy", "macro_f1")
                         for x in [[r["per_language"][lang][m] for r in runs]]} for lang in langs}
        out[v]["wall_time_s"] = float(np.mean([r.get("wall_time_s") or np.nan for r in runs]))
    return out


def mean_table(per_seed: list[dict], columns: list[str]) -> str:
    """Mean ± sd over seeds per variant and language, and each variant's mean wall time."""
    rows = {NAMES.get(v, v): {c: [s[v]["per_language"][c] for s in per_seed] for c in columns
                              if c in per_seed[0][v]["per_language"]} for v in per_seed[0]}
    walls = {NAMES.get(v, v): f"{np.nanmean([s[v].get('wall_time_s') or np.nan for s in per_seed]):.0f} s"
             for v in per_seed[0]}
    return score_table(rows, columns, extra=walls)


def codeswitch_scores(base, overrides, workdir: Path, variants, langs) -> tuple[dict, dict]:
    from xlgraph.data.corpus import Corpus
    from xlgraph.data.readers import load_corpus
    from xlgraph.methods.finetune import evaluate_corpus
    from xlgraph.text.codeswitch import code_switch_corpus, load_dictionary

    cfg = config_for(base, overrides, "baseline")
    corpus, _ = load_corpus(list(cfg.data.sources))
    src = cfg.data.source_lang
    split = "test" if len(corpus.where(lang=src, split="test", labelled=True)) else "dev"
    english = corpus.where(lang=src, split=split, labelled=True)
    if cfg.data.max_eval:
        english = english.take(np.arange(min(cfg.data.max_eval, len(english))))
    muse = Path(__file__).resolve().parents[2] / "../shared/data/muse_dicts/full"
    sets, stats = [english], {}
    for lang in langs:
        path = next(p for p in (muse / f"{src}-{lang}.txt", muse / f"{src}-{lang}.txt.gz") if p.exists())
        switched, stats[lang] = code_switch_corpus(english, load_dictionary(path), lang=lang, seed=0)
        sets.append(switched)
    data = Corpus.concat(sets)
    scores = {v: evaluate_corpus(workdir / v, data, split=split, source="code-switched English")["per_language"]
              for v in variants}
    return scores, {"split": split, "stats": {k: str(s) for k, s in stats.items()}}


def table(rows: dict, columns: list[str], header: dict | None = None) -> str:
    return score_table({NAMES.get(name, name): per for name, per in rows.items()}, columns, header=header)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="base config file, or 'demo' for the embedded sample")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--workdir", required=True)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", default="", help="e.g. 0,1,2: one run per seed and variant, then mean ± sd")
    p.add_argument("--codeswitch", default="", help="dictionary languages, e.g. es,de")
    args = p.parse_intermixed_args(argv)
    log_to_stderr()
    workdir, variants = Path(args.workdir), args.variants.split(",")
    if unknown := [v for v in variants if v not in VARIANTS]:
        p.error(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    try:
        seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [None]
    except ValueError:
        p.error(f"--seeds: integers separated by commas, not {args.seeds!r}")
    if args.codeswitch and len(seeds) > 1:
        p.error("--codeswitch scores one seed's runs: give one --seeds value")
    per_seed = []
    for seed in seeds:
        where = workdir if seed is None else workdir / f"seed{seed}"
        per_seed.append({v: run_variant(args.config, args.overrides, v, where, seed) for v in variants})
    summary = {"variants": per_seed[0]} if seeds == [None] else {"seeds": dict(zip(seeds, per_seed))}
    for seed, results in zip(seeds, per_seed):
        langs = sorted({lang for r in results.values() for lang in r["per_language"]})
        print("\naccuracy / macro-F1 (%) per language; checkpoints selected on source dev (zero-shot)"
              + ("" if seed is None else f"; seed {seed}"))
        print(table({v: r["per_language"] for v, r in results.items()}, langs))
        for v, r in results.items():
            if r.get("round0_from"):
                print(f"{NAMES[v]}: round 0 is {r['round0_from']['run']}'s fine-tuning (same seed and settings), "
                      f"not trained again; its {r['round0_from']['wall_time_s']} s are not in this run's wall time")
            if r.get("self_learning"):
                print(f"\n{NAMES[v]}: best round {r['self_learning']['best_round']}; "
                      "pseudo-label precision per round:")
                for rd in r["self_learning"]["rounds"]:
                    if rd["precision"] is not None:
                        groups = ", ".join(f"{g} {100 * x:.1f}" for g, x in rd["precision_per_group"].items())
                        print(f"  round {rd['round']}: {rd['selected']} selected, precision "
                              f"{100 * rd['precision']:.1f}% ({groups}); dev score {100 * rd['score']:.2f}")
    if len(seeds) > 1:
        summary["mean"] = summarise(per_seed)
        langs = sorted({lang for r in per_seed[0].values() for lang in r["per_language"]})
        print(f"\naccuracy / macro-F1 (%), mean ± sd over seeds {args.seeds}; mean wall time per run")
        print(mean_table(per_seed, langs))
    if args.codeswitch:
        where = workdir if seeds == [None] else workdir / f"seed{seeds[0]}"
        own = [v for v in variants if v != "clhg" and "from" not in per_seed[0][v]]  # those with a checkpoint
        scores, info = codeswitch_scores(args.config, args.overrides, where, own, args.codeswitch.split(","))
        cols = sorted(next(iter(scores.values())))
        header = {f"cs-{k}": f"cs-{k} ({s.split(' of ')[0]}/{s.split('/ ')[1].split('%')[0]}%)"
                  for k, s in info["stats"].items()}
        print(f"\ncode-switched English {info['split']} (vocabulary / token share replaced):")
        print(table(scores, cols, {c: header.get(c, c) for c in cols}))
        summary["codeswitch"] = {"scores": scores, **info}
    (workdir / "table.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(script_main(main))
