"""Mono vs multi per model, in the layout of Mhamdi et al.'s Table 2: per language, the model trained on that
language alone with its own vectors (mono), the model trained on every language with aligned vectors (multi), and
the gain; macro F1, precision and recall on each language's test set; models as column groups. Below it, the share
of corpus tokens (all splits) without a vector, per language and vector set (coverage decides much of these numbers).

Vectors come from `python experiments/embeddings/vectors.py` (runs/vectors/mono/{lang}.vec and
runs/vectors/{method}/{lang}.vec). Each run lives in WORKDIR/MODEL/{mono-LANG,multi-METHOD} and is skipped when its
results.json exists, so an interrupted table resumes. With several aligned sets (--aligned procrustes,cca), the rows
are mono / best multi / avg multi / gain (best − mono), as in the paper.

    python experiments/embeddings/table.py                                   # mlp, cnn, han on en de fr es it pt
    python experiments/embeddings/table.py --models mlp,cnn --aligned procrustes,cca train.epochs=2
"""

import argparse
import json
import sys
from pathlib import Path

from xlgraph.errors import script_main
from xlgraph.eval.report import score_table
from xlgraph.progress import log_to_stderr
from xlgraph.runs import finished_results

HERE = Path(__file__).resolve().parent
METRICS = (("F1", "macro_f1"), ("P", "macro_precision"), ("R", "macro_recall"))
NAMES = {"mlp": "FT-MLP", "cnn": "MF-CNN", "gru": "bi-GRU-Att", "han": "HAN+Sent-Ali"}


def base_config(model: str):
    from xlgraph.config import load_config

    return load_config(HERE / f"xlmt_{model}.py")


def config_for(model: str, overrides, *, lang: str | None, aligned: str | None, langs, vectors: Path):
    """mono (lang given): that language alone with runs/vectors/mono/LANG.vec; multi: every language, aligned."""
    from xlgraph.config import apply_overrides

    cfg = base_config(model)
    cfg.data.sources = [s.split("?")[0] + f"?langs={','.join(langs)}" for s in cfg.data.sources]
    if lang is not None:
        cfg.embeddings.mode, cfg.data.source_lang, cfg.data.train_langs = "mono", lang, []
        cfg.embeddings.vectors = [f"{lang}={vectors / 'mono' / f'{lang}.vec'}"]
        cfg.embeddings.sentence_alignment = False  # no English beside a mono vocabulary to align to
    else:
        cfg.embeddings.mode, cfg.data.train_langs = "multi", list(langs)
        cfg.embeddings.vectors = [f"{x}={vectors / aligned / f'{x}.vec'}" for x in langs]
    apply_overrides(cfg, overrides)
    cfg.name = f"{cfg.name}-{'mono-' + lang if lang else 'multi-' + aligned}"
    return cfg


def run(cfg, workdir: Path) -> dict:
    from xlgraph.methods import METHODS

    if (done := finished_results(workdir)) is not None:
        return done
    missing = [v.split("=", 1)[1] for v in cfg.embeddings.vectors if not Path(v.split("=", 1)[1]).exists()]
    if missing:
        sys.exit(f"table.py: missing vectors {', '.join(missing)}; run python experiments/embeddings/vectors.py")
    return METHODS[cfg.method]()(cfg, workdir)


def table(scores: dict, models, langs, aligned) -> str:
    """scores[model][lang] = {"mono": metrics, "multi-METHOD": metrics, ...}: rows per language (mono, best/avg
    multi, gain), a column per model, each cell macro F1 / P / R (%), through eval/report.score_table."""
    several = len(aligned) > 1
    kinds = ["mono", *(["best multi", "avg multi"] if several else ["multi"]), "gain"]
    keys = [k for _, k in METRICS]
    rows, gains = {}, {m: [] for m in models}
    for lang in langs:
        for kind in kinds:
            row = rows.setdefault(f"{lang.upper()} {kind}", {})
            for m in models:
                got = scores[m][lang]
                multis = [got[f"multi-{a}"] for a in aligned if f"multi-{a}" in got]
                best = max(multis, key=lambda x: x["macro_f1"]) if multis else None
                value = {"mono": got.get("mono"), "multi": best, "best multi": best,
                         "avg multi": {k: sum(x[k] for x in multis) / len(multis) for k in keys} if multis else None,
                         "gain": {k: best[k] - got["mono"][k] for k in keys} if best and got.get("mono")
                         else None}[kind]
                if kind == "gain" and value:
                    gains[m].append(value)
                row[m] = value
    rows["Avg gain"] = {m: {k: sum(g[k] for g in gains[m]) / len(gains[m]) for k in keys} for m in models if gains[m]}
    head = " / ".join(name for name, _ in METRICS)
    return score_table(rows, models, header={m: f"{NAMES.get(m, m)} {head}" for m in models}, metrics=keys)


def coverage_lines(results: dict, models, langs) -> str:
    """Share of corpus tokens without a vector, per vector set (the same for every model)."""
    seen = {}
    for m in models:
        for key, r in results[m].items():
            kind = "mono" if key.startswith("mono") else key
            for lang, c in r.get("vocabulary", {}).get("coverage", {}).items():
                seen.setdefault(kind, {})[lang] = c["unknown_share"]
    out = ["corpus tokens without a vector (%): " + "  ".join(f"{x:>6}" for x in langs)]
    for kind, per in seen.items():
        out.append(f"  {kind:34}" + "  ".join(f"{100 * per[x]:6.1f}" if x in per else f"{'—':>6}" for x in langs))
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="config overrides for every run, e.g. train.epochs=2")
    p.add_argument("--models", default="mlp,cnn,han")
    p.add_argument("--langs", default="en,de,fr,es,it,pt")
    p.add_argument("--aligned", default="procrustes", help="aligned vector sets under --vectors, e.g. procrustes,cca")
    p.add_argument("--vectors", default="runs/vectors")
    p.add_argument("--workdir", default="runs/embeddings-table")
    args = p.parse_intermixed_args()
    log_to_stderr()
    models, langs, aligned = args.models.split(","), args.langs.split(","), args.aligned.split(",")
    workdir, vectors = Path(args.workdir), Path(args.vectors)
    results = {m: {} for m in models}
    for m in models:
        for lang in langs:
            cfg = config_for(m, args.overrides, lang=lang, aligned=None, langs=langs, vectors=vectors)
            results[m][f"mono-{lang}"] = run(cfg, workdir / m / f"mono-{lang}")
        for a in aligned:
            cfg = config_for(m, args.overrides, lang=None, aligned=a, langs=langs, vectors=vectors)
            results[m][f"multi-{a}"] = run(cfg, workdir / m / f"multi-{a}")
    scores = {m: {lang: {"mono": results[m][f"mono-{lang}"]["per_language"].get(lang),
                         **{f"multi-{a}": results[m][f"multi-{a}"]["per_language"].get(lang) for a in aligned}}
                  for lang in langs} for m in models}
    split = next(iter(results[models[0]].values()))["eval_split"]
    print(f"\nmacro F1 / precision / recall (%) on each language's {split} set; mono: trained on that language with its "
          f"own vectors; multi: trained on {', '.join(langs)} with {'/'.join(aligned)}-aligned vectors; checkpoints "
          "selected on the training languages' dev\n")
    print(table(scores, models, langs, aligned))
    print("\n" + coverage_lines(results, models, langs))
    walls = sum(r["wall_time_s"] for per in results.values() for r in per.values())
    print(f"\nruns: {sum(len(v) for v in results.values())}, {walls / 60:.1f} min of run wall time (resumed runs "
          "count their first time)")
    (workdir / "table.json").write_text(json.dumps({"scores": scores, "overrides": args.overrides}, indent=2))


if __name__ == "__main__":
    sys.exit(script_main(main))
