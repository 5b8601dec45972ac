"""Monolingual word vectors trained here, one space per language, then aligned into the English space (the
multilingual-embeddings paper's setting), with word-translation P@1 to show how good each alignment is.

Text: everything in ../shared/data for the language that is not a classification evaluation set: Multi30k train,
Tatoeba, and the train splits of XLM-T, MTOD and OpeNER, plus the UD dev/test text (UD is not classified here).
Tokenized by `xlgraph.text.words.words` (NFKC, lower case, runs of letters, marks and numbers). Trained with gensim
(`xlgraph.text.vectors.train_vectors`): fastText skip-gram, 100 dimensions by default; on German, word2vec
scored no better and 300 dimensions differed by a few of the 246 scorable test words. Aligned with the MUSE
`{lang}-en.0-5000` dictionary (procrustes, procrustes-gt1, cca) and with the identical-string pseudo-dictionary
(`identical`, Procrustes), scored on `{lang}-en.5000-6500` by nearest neighbour and CSLS; `identity` (no map) is
the baseline of unaligned spaces.

    OUT/mono/{lang}.vec      the trained vectors (+ {lang}.json: corpus and training figures)
    OUT/{method}/{lang}.vec  mapped into the English space (CCA: `Alignment.into_target_space()`); en.vec is
                             English as it is (+ {lang}.json: P@1 and coverage); {method}-refineN with --refine N
    OUT/results.json         the table (results-refineN.json with --refine N)

A rerun skips what exists (a vector file counts once its .json is written) and refuses files made with other
settings.

    python experiments/embeddings/vectors.py [--out runs/vectors] [--langs en,de,fr,es,it,pt] [--dim 100]
        [--model fasttext] [--refine 0] [--source de=lines:FILE --source de=xlmt:DIR?langs=de ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xlgraph.text.dictionary import load_dictionary
from xlgraph.align.evaluate import coverage
from xlgraph.align.mapping import IDENTICAL, METHODS, Alignment, LinearMap, align, evaluate_alignment
from xlgraph.config import at_least
from xlgraph.data.readers import ReadContext, iter_lines, read_docs
from xlgraph.errors import XlgraphError
from xlgraph.text.vectors import load_vectors, save_vectors, train_vectors
from xlgraph.text.words import words

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("en", "de", "fr", "es", "it", "pt")
PIVOT = "en"
TATOEBA = {"de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por"}
UD = {"en": "UD_English-EWT", "de": "UD_German-GSD", "es": "UD_Spanish-GSD", "fr": "UD_French-GSD"}
ALL_METHODS = (*METHODS, "identical")  # identical: Procrustes on the identical-string pseudo-dictionary

log = logging.getLogger("xlgraph")


def default_sources(lang: str, data: Path) -> list[str]:
    """Corpus specs of every text in `lang` under `data` that is not an evaluation set (see the docstring).
    ``lines:PATH`` is a plain text file, one sentence a line (gzip allowed)."""
    specs = []
    if lang in ("en", "de", "fr"):
        specs.append(f"lines:{data}/parallel_multi30k/raw/train.{lang}.gz")
    if lang == PIVOT:  # the English sides differ between the Tatoeba pairs: all of them are English text
        specs += [f"lines:{data}/parallel_tatoeba_laser/v1/tatoeba.{c}-eng.eng" for c in TATOEBA.values()]
    elif lang in TATOEBA:
        specs.append(f"lines:{data}/parallel_tatoeba_laser/v1/tatoeba.{TATOEBA[lang]}-eng.{TATOEBA[lang]}")
    specs.append(f"xlmt:{data}/xlmt_umsab_sentiment?langs={lang}&splits=train")
    if lang in ("en", "es"):
        specs.append(f"mtod:{data}/mtod?langs={lang}&splits=train")
        specs.append(f"opener:{data}/opener_multibooked_sentiment?classes=5&langs={lang}&splits=train")
    if lang in UD:
        specs.append(f"conllu:{data}/ud_pos/{UD[lang]}")
    return specs


def texts(spec: str, lang: str) -> Iterator[str]:
    if spec.startswith("lines:"):
        yield from (line for _, line in iter_lines(spec[len("lines:"):], ReadContext()) if line.strip())
    else:
        yield from (doc.text for doc in read_docs(spec, ReadContext()) if doc.lang == lang)


def corpus(specs: list[str], lang: str) -> tuple[list[list[str]], dict[str, list[int]]]:
    """Tokenized sentences of all `specs`, and (sentences, tokens) per spec."""
    sentences, counts = [], {}
    for spec in specs:
        before = len(sentences)
        sentences += [w for w in map(words, texts(spec, lang)) if w]
        counts[spec] = [len(sentences) - before, sum(map(len, sentences[before:]))]
        if counts[spec][0] == 0:
            raise XlgraphError(f"{spec}: no {lang} text")
    return sentences, counts


def _check_settings(meta_path: Path, settings: dict) -> dict | None:
    """The finished step's record, or None when it has not run; an error when it ran with other settings."""
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta["settings"] != settings:
        changed = sorted(k for k in settings.keys() | meta["settings"].keys()
                         if settings.get(k) != meta["settings"].get(k))
        raise XlgraphError(f"{meta_path} was made with other settings ({', '.join(changed)}); use another --out "
                           "or delete it")
    return meta


def monolingual(lang: str, specs: list[str], out: Path, args) -> tuple[object, dict]:
    """(vectors, record): trained now, or read back from a finished earlier run."""
    settings = {"model": args.model, "dim": args.dim, "min_count": args.min_count, "epochs": args.epochs,
                "window": args.window, "bucket": args.bucket, "seed": args.seed, "sources": specs}
    path, meta_path = out / "mono" / f"{lang}.vec", out / "mono" / f"{lang}.json"
    meta = _check_settings(meta_path, settings)
    if meta is not None:
        return load_vectors(path), meta
    t0 = time.perf_counter()
    sentences, counts = corpus(specs, lang)
    extra = {"bucket": args.bucket} if args.model == "fasttext" else {}
    kv = train_vectors(sentences, model=args.model, dim=args.dim, window=args.window, min_count=args.min_count,
                       epochs=args.epochs, seed=args.seed, workers=args.workers, **extra)
    save_vectors(kv, path)
    meta = {"settings": settings, "sentences": len(sentences), "tokens": sum(c[1] for c in counts.values()),
            "vocab": len(kv), "per_source": counts, "seconds": round(time.perf_counter() - t0, 1)}
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"{lang}: trained on {meta['sentences']:,} sentences, {meta['tokens']:,} tokens -> {len(kv):,} words "
          f"({meta['seconds']:.0f} s)", flush=True)
    return kv, meta


def dictionaries(lang: str, folder: Path):
    paths = [folder / f"{lang}-{PIVOT}.{split}.txt" for split in ("0-5000", "5000-6500")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise XlgraphError(f"no MUSE dictionary {lang}->{PIVOT}: missing {', '.join(missing)} (--dicts)")
    return load_dictionary(paths[0]), load_dictionary(paths[1]), [str(p) for p in paths]


def _scores(s) -> dict:
    return {"nn": s.nn, "csls": s.csls, "sources": s.sources, "found": s.found, "evaluated": s.evaluated}


def aligned(lang: str, method: str, src, tgt, train, test, dict_paths, out: Path, args) -> dict:
    """Fits `method`, writes the mapped vectors and English beside them, returns the record with P@1."""
    settings = {"mono": [args.model, args.dim], "dictionaries": dict_paths, "refine": args.refine,
                "refine_rank": args.refine_rank, "reg": args.reg, "csls_k": args.csls_k}
    folder = out / (method if not args.refine else f"{method}-refine{args.refine}")
    meta_path = folder / f"{lang}.json"
    meta = _check_settings(meta_path, settings)
    if meta is not None:
        return meta
    fit = align(src, tgt, IDENTICAL if method == "identical" else train,
                method="procrustes" if method == "identical" else method, refine=args.refine,
                refine_rank=args.refine_rank, csls_k=args.csls_k, reg=args.reg).into_target_space()
    scores = evaluate_alignment(fit, src, tgt, test, csls_k=args.csls_k)
    save_vectors(fit.map_src(src), folder / f"{lang}.vec")
    if not (folder / f"{PIVOT}.vec").exists():
        shutil.copyfile(out / "mono" / f"{PIVOT}.vec", folder / f"{PIVOT}.vec")
    meta = {"settings": settings, "pairs": fit.pairs, "rounds": list(fit.rounds), **_scores(scores)}
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def table(mono: dict, results: dict, args) -> str:
    head = (f"{'lang':4}  {'vocab':>7}  {'tokens':>9}  {'method':16}  {'pairs':>6}  {'P@1 NN':>7}  {'CSLS':>7}  "
            f"{'coverage':>17}")
    lines = [f"{args.model} skip-gram · {args.dim} dims · min count {args.min_count} · {args.epochs} epochs · "
             f"aligned into {PIVOT} · fit: MUSE xx-en.0-5000 (identical: shared strings) · P@1 on xx-en.5000-6500"
             + (f" · refined {args.refine}×" if args.refine else ""), head, "-" * len(head)]
    for lang, meta in mono.items():
        first = f"{lang:4}  {meta['vocab']:>7,}  {meta['tokens']:>9,}"
        if lang == PIVOT:
            lines.append(f"{first}  (pivot)")
            continue
        for i, (method, r) in enumerate(results[lang].items()):
            cov = f"{100 * coverage(r['evaluated'], r['sources']):.1f}% ({r['evaluated']}/{r['sources']})"
            pairs = f"{r['pairs']:>6}" if r.get("pairs") else f"{'—':>6}"
            lines.append(f"{first if i == 0 else ' ' * len(first)}  {method:16}  {pairs}  {100 * r['nn']:>6.2f}%  "
                         f"{100 * r['csls']:>6.2f}%  {cov:>17}")
    lines.append("coverage: test source words scored (the word and one of its translations have vectors); P@1 is "
                 "over those")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/vectors")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    p.add_argument("--dicts", help="folder of MUSE splits {lang}-en.{0-5000,5000-6500}.txt (default: "
                   "DATA/muse_dicts/splits)")
    p.add_argument("--langs", default=",".join(LANGS))
    p.add_argument("--source", action="append", default=[], metavar="LANG=SPEC",
                   help="text for LANG (repeatable; replaces the defaults for LANG): a corpus spec or lines:FILE")
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--model", choices=("fasttext", "word2vec"), default="fasttext")
    p.add_argument("--dim", type=at_least(1), default=100, help="vector size (300 scored no better on corpora this small)")
    p.add_argument("--min-count", type=at_least(1), default=3)
    p.add_argument("--epochs", type=at_least(1), default=10)
    p.add_argument("--window", type=at_least(1), default=5)
    p.add_argument("--bucket", type=at_least(1), default=200_000, help="fastText n-gram buckets (gensim's 2M would take "
                   "2.4 GB per 300-dim model)")
    p.add_argument("--workers", type=at_least(1), default=2, help="gensim threads (1: reproducible to the bit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine", type=at_least(0), default=0, metavar="N", help="rounds of MUSE refinement after each fit")
    p.add_argument("--refine-rank", type=at_least(1), default=15000)
    p.add_argument("--reg", type=float, default=1e-3, help="CCA ridge")
    p.add_argument("--csls-k", type=at_least(1), default=10)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    out, data = Path(args.out), Path(args.data)
    langs = [lang for lang in args.langs.split(",") if lang]
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(ALL_METHODS))
    if PIVOT not in langs or unknown:
        p.error(f"--langs must include {PIVOT}" if PIVOT not in langs else f"unknown method(s) {unknown}")
    sources: dict[str, list[str]] = {}
    for item in args.source:
        lang, sep, spec = item.partition("=")
        if not sep or not spec:
            p.error(f"--source wants LANG=SPEC, got {item!r}")
        sources.setdefault(lang, []).append(spec)
    dict_folder = Path(args.dicts) if args.dicts else data / "muse_dicts" / "splits"
    try:
        dicts = {lang: dictionaries(lang, dict_folder) for lang in langs if lang != PIVOT}  # fail before training
        vectors, mono = {}, {}
        for lang in langs:
            vectors[lang], mono[lang] = monolingual(lang, sources.get(lang) or default_sources(lang, data), out, args)
        results = {}
        for lang in langs:
            if lang == PIVOT:
                continue
            src, tgt, (train, test, paths) = vectors[lang], vectors[PIVOT], dicts[lang]
            identity = Alignment("identity", LinearMap(np.eye(args.dim, dtype=np.float32)))
            results[lang] = {"identity (none)": _scores(evaluate_alignment(identity, src, tgt, test,
                                                                            csls_k=args.csls_k))}
            for method in methods:
                results[lang][method] = aligned(lang, method, src, tgt, train, test, paths, out, args)
    except XlgraphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(table(mono, results, args))
    name = f"results-refine{args.refine}.json" if args.refine else "results.json"
    (out / name).write_text(json.dumps({"mono": mono, "alignments": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
