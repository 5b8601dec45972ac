import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from xlgraph.data.readers import load_corpus
from xlgraph.data.readers.mtod import INTENTS
from xlgraph.data.sample import SAMPLE_DIR, SAMPLE_SPEC

REPO = Path(__file__).resolve().parents[1]
SIZES = {("en", "train"): 2000, ("en", "dev"): 500, ("es", "test"): 1000, ("th", "test"): 1000,
         ("es", "unlabeled"): 1000, ("th", "unlabeled"): 1000}


def test_sample_sizes_and_labels():
    corpus, skipped = load_corpus("sample:mtod")
    assert skipped == [] and corpus.labels == INTENTS
    got = {(lang, split): int(corpus.mask(lang=lang, split=split).sum())
           for lang in corpus.langs for split in ("train", "dev", "test", "unlabeled")
           if corpus.mask(lang=lang, split=split).any()}
    assert got == SIZES
    assert (corpus.label >= 0).all()  # the unlabeled pools keep their gold intent, for pseudo-label precision
    assert len(np.unique(corpus.where(lang="en", split="train").label)) == 12  # stratified: every intent


def test_sample_spec_is_the_same_data():
    a, _ = load_corpus("sample:mtod")
    b, _ = load_corpus(SAMPLE_SPEC)
    assert list(a.text) == list(b.text) and list(a.doc_id) == list(b.doc_id)


def test_sample_files_attribution_and_packaging():
    files = sorted(p.relative_to(SAMPLE_DIR).as_posix() for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert "ATTRIBUTION.md" in files and "LICENSE" in files
    attribution = (SAMPLE_DIR / "ATTRIBUTION.md").read_text()
    for needed in ("Schuster", "NAACL", "ROSTD", "Gangal", "Copyright",  # sources
                   "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/",  # license
                   "emptied", "make_mtod_sample.py"):  # what was changed, and how
        assert needed in attribution
    assert "CC BY-SA 4.0" in (SAMPLE_DIR / "LICENSE").read_text()
    assert sum((SAMPLE_DIR / f).stat().st_size for f in files) < 300_000
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["xlgraph.data.sample"]
    missing = [f for f in files if not any(fnmatch("mtod/" + f, p) for p in patterns)]
    assert missing == [], "not in pyproject's package-data, so not installed"


def test_sample_script_reproduces_the_files(shared_data, tmp_path):
    import runpy

    source = shared_data("mtod")
    script = runpy.run_path(str(REPO / "experiments/data/make_mtod_sample.py"))
    script["main"](["--source", str(source), "--out", str(tmp_path)])
    for path in sorted(tmp_path.rglob("*.tsv.gz")):
        assert path.read_bytes() == (SAMPLE_DIR / path.relative_to(tmp_path)).read_bytes(), path.name
    assert len(list(tmp_path.rglob("*.tsv.gz"))) == 6
