"""Builds the MTOD sample shipped in xlgraph/data/sample/mtod/ from the full data set (CC BY-SA).

    python experiments/data/make_mtod_sample.py [--source ../shared/data/mtod] [--out xlgraph/data/sample/mtod]

Same layout and 5-column format as MTOD, gzipped, with the tokenization JSON column emptied (slots kept):
  en/train-en.tsv.gz       2,000 of English train
  en/eval-en.tsv.gz          500 of English eval (split dev)
  es/test-es.tsv.gz        1,000 of Spanish test
  th/test-th_TH.tsv.gz     1,000 of Thai test
  es/unlabeled-es.tsv.gz   1,000 of Spanish TRAIN, gold intent kept (split unlabeled: for measuring pseudo-labels only)
  th/unlabeled-th_TH.tsv.gz 1,000 of Thai TRAIN, likewise
Each part is a stratified random sample (intent shares as in its source, largest remainders), rows in source order.
Rows whose utterance (case and spacing folded) is in the sampled English dev set are not drawn for English train, and
those in the same language's sampled test set are not drawn for the unlabeled pools, so the data set's cross-split
duplicates cannot leak into model selection or transductive evaluation. Deterministic: fixed seed, gzip without
timestamps, so rerunning gives byte-identical files.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = 20190602  # NAACL 2019
PARTS = [  # (source file, sample file, rows, sample file whose utterances are excluded)
    ("en/eval-en.tsv", "en/eval-en.tsv.gz", 500, None),
    ("en/train-en.tsv", "en/train-en.tsv.gz", 2000, "en/eval-en.tsv.gz"),
    ("es/test-es.tsv", "es/test-es.tsv.gz", 1000, None),
    ("th/test-th_TH.tsv", "th/test-th_TH.tsv.gz", 1000, None),
    ("es/train-es.tsv", "es/unlabeled-es.tsv.gz", 1000, "es/test-es.tsv.gz"),
    ("th/train-th_TH.tsv", "th/unlabeled-th_TH.tsv.gz", 1000, "th/test-th_TH.tsv.gz"),
]


def fold(text: str) -> str:
    return " ".join(text.lower().split())


def read_rows(path: Path) -> list[list[str]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 5:
                raise SystemExit(f"{path}:{number}: expected 5 columns, found {len(cols)}")
            rows.append(cols)
    return rows


def stratified(rows: list[list[str]], n: int, rng: random.Random) -> list[list[str]]:
    """n rows with each intent's share as in `rows` (largest remainders), in their original order."""
    by_intent = collections.defaultdict(list)
    for i, row in enumerate(rows):
        by_intent[row[0]].append(i)
    quota = {k: n * len(v) / len(rows) for k, v in sorted(by_intent.items())}
    take = {k: int(q) for k, q in quota.items()}
    for k in sorted(quota, key=lambda k: (take[k] - quota[k], k))[: n - sum(take.values())]:
        take[k] += 1
    chosen = sorted(i for k, idx in sorted(by_intent.items()) for i in rng.sample(idx, take[k]))
    return [rows[i] for i in chosen]


def write_gz(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join("\t".join(row) + "\n" for row in rows).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(data)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=REPO / "../shared/data/mtod")
    ap.add_argument("--out", type=Path, default=REPO / "xlgraph/data/sample/mtod")
    args = ap.parse_args(argv)
    rng = random.Random(SEED)
    written: dict[str, list[list[str]]] = {}
    for source, target, n, exclude in PARTS:
        rows = read_rows(args.source / source)
        banned = {fold(r[2]) for r in written.get(exclude, [])}
        candidates = [r for r in rows if fold(r[2]) not in banned]
        sample = [[intent, slots, text, tag, ""] for intent, slots, text, tag, _ in stratified(candidates, n, rng)]
        write_gz(args.out / target, sample)
        written[target] = sample
        intents = collections.Counter(r[0] for r in sample)
        print(f"{target}: {len(sample)} rows from {source} ({len(rows) - len(candidates)} excluded), "
              f"{len(intents)} intents, {(args.out / target).stat().st_size} bytes")


if __name__ == "__main__":
    main()
