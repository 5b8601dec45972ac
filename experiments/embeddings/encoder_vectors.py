"""Multilingual word vectors from the encoder, scored as the fastText vectors of `vectors.py` are: word-translation
P@1 (nearest neighbour and CSLS) on MUSE `{lang}-en.5000-6500`, with no map and with Procrustes fitted on
`{lang}-en.0-5000`.

Each word is encoded alone (`xlgraph.encode.encode_words`: mean-pooled last layer, as CLHG's word nodes
are), so every word has a vector: the vocabulary of a language is its words in both MUSE splits, plus the fastText
vocabulary of `vectors.py` when `--fasttext DIR` is given (then the table also scores the test pairs that the
fastText vectors cover, the pairs of its own table). English is the union over the languages' dictionaries.
Candidates are the English vocabulary here (not MUSE's 200k words), so absolute P@1 is not comparable with
published MUSE figures; rows in one table are.

    OUT/{lang}.vec   the encoder's vectors;  OUT/results.json   the table
    python experiments/embeddings/encoder_vectors.py [--out runs/vectors-e5] [--langs de,fr,es]
        [--model multilingual-e5-small] [--prefix ''] [--fasttext runs/vectors/mono]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from xlgraph.align.mapping import Alignment, LinearMap, align, evaluate_alignment
from xlgraph.config import at_least
from xlgraph.errors import XlgraphError
from xlgraph.encode import encode_words
from xlgraph.text.vectors import load_vectors, save_vectors

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vectors import PIVOT, ROOT, dictionaries  # noqa: E402  (the same MUSE splits and pivot)


def vocab(lang: str, dicts: dict, fasttext: Path | None) -> list[str]:
    words = []
    for train, test, _ in ([dicts[lang]] if lang != PIVOT else dicts.values()):
        for d in (train, test):
            words += list(d) if lang != PIVOT else [t for ts in d.values() for t in ts]
    if fasttext is not None:
        words += list(load_vectors(fasttext / f"{lang}.vec").index_to_key)
    return list(dict.fromkeys(words))


def scores(s) -> dict:
    return {"nn": s.nn, "csls": s.csls, "evaluated": s.evaluated, "sources": s.sources}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/vectors-e5")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--langs", default="de,fr,es")
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--prefix", default="", help="prepended to each word (e5: 'query: '; none by default)")
    p.add_argument("--pooling", choices=("mean", "first"), default="mean")
    p.add_argument("--fasttext", help="folder of vectors.py's monolingual vectors ({lang}.vec), e.g. runs/vectors/mono")
    p.add_argument("--csls-k", type=at_least(1), default=10)
    args = p.parse_args(argv)
    out, langs = Path(args.out), [x for x in args.langs.split(",") if x and x != PIVOT]
    fasttext = Path(args.fasttext) if args.fasttext else None
    try:
        dicts = {lang: dictionaries(lang, Path(args.data) / "muse_dicts" / "splits") for lang in langs}
        vectors = {}
        for lang in [PIVOT, *langs]:
            words = vocab(lang, dicts, fasttext)
            vectors[lang] = encode_words(words, out / f"{lang}.features", lang=lang, model=args.model,
                                         pooling=args.pooling, prefix=args.prefix)
            save_vectors(vectors[lang], out / f"{lang}.vec")
            print(f"{lang}: {len(words):,} words encoded", flush=True)
        results = {}
        for lang in langs:
            train, test, _ = dicts[lang]
            src, tgt = vectors[lang], vectors[PIVOT]
            fits = {"none": Alignment("identity", LinearMap(np.eye(src.vector_size, dtype=np.float32))),
                    "procrustes": align(src, tgt, train, method="procrustes").into_target_space()}
            results[lang] = {name: {"all": scores(evaluate_alignment(fit, src, tgt, test, csls_k=args.csls_k))}
                             for name, fit in fits.items()}
            if fasttext is not None:  # the test pairs whose both words the fastText vectors have
                ft_src, ft_tgt = load_vectors(fasttext / f"{lang}.vec"), load_vectors(fasttext / f"{PIVOT}.vec")
                covered = {w: tuple(t for t in ts if t in ft_tgt.key_to_index) for w, ts in test.items()
                           if w in ft_src.key_to_index}
                covered = {w: ts for w, ts in covered.items() if ts}
                for name, fit in fits.items():
                    results[lang][name]["fasttext_pairs"] = scores(evaluate_alignment(fit, src, tgt, covered,
                                                                                      csls_k=args.csls_k))
    except XlgraphError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    lines = [f"{args.model} word vectors (each word alone, {args.pooling} pooling, prefix {args.prefix!r}) · P@1 NN / "
             f"CSLS (%) on MUSE xx-en.5000-6500 · candidates: {len(vectors[PIVOT]):,} English words"]
    for lang, r in results.items():
        for name, s in r.items():
            row = f"{lang}  {name:10}  all pairs {100 * s['all']['nn']:5.1f} / {100 * s['all']['csls']:5.1f} " \
                  f"({s['all']['evaluated']}/{s['all']['sources']})"
            if "fasttext_pairs" in s:
                f = s["fasttext_pairs"]
                row += f"   fastText-covered pairs {100 * f['nn']:5.1f} / {100 * f['csls']:5.1f} ({f['evaluated']})"
            lines.append(row)
    print("\n".join(lines))
    (out / "results.json").write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
