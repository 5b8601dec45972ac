"""Parallel sentences for sentence alignment: Multi30k and Tatoeba layouts on the real data, the per-language cap,
and errors that name the file and line."""

import gzip

import numpy as np
import pytest

from xlgraph.data.parallel import read_parallel
from xlgraph.errors import DataError, SpecError


def test_real_multi30k_and_tatoeba(shared_data):
    m30k, tatoeba = shared_data("parallel_multi30k") / "raw", shared_data("parallel_tatoeba_laser") / "v1"
    p = read_parallel([f"multi30k:{m30k}?langs=de,fr&splits=val", f"tatoeba:{tatoeba}?langs=es,deu"])
    counts = {lang: int(np.sum(p.lang == lang)) for lang in ("de", "fr", "es", "deu")}
    assert counts == {"de": 1014, "fr": 1014, "es": 1000, "deu": 1000}
    first_de = np.flatnonzero(p.lang == "de")[0]
    assert p.text[first_de].startswith("Eine Gruppe von Männern") and p.english[first_de].startswith("A group of men")
    with gzip.open(m30k / "val.fr.gz", "rt", encoding="utf-8") as f:  # line n pairs with English line n
        assert p.text[np.flatnonzero(p.lang == "fr")[5]] == f.read().splitlines()[5].strip()
    capped = read_parallel(f"multi30k:{m30k}?langs=de", max_pairs=50, seed=3)
    assert len(capped) == 50 and set(capped.text) <= set(read_parallel(f"multi30k:{m30k}?langs=de").text)
    assert list(read_parallel(f"multi30k:{m30k}?langs=de", max_pairs=50, seed=3).text) == list(capped.text)


def test_errors_name_file_and_line(tmp_path):
    (tmp_path / "train.de").write_text("eins\nzwei\ndrei\n")
    (tmp_path / "train.en").write_text("one\ntwo\n")
    with pytest.raises(DataError, match=r"train\.de:3: train\.de and train\.en have different numbers of lines"):
        read_parallel(f"multi30k:{tmp_path}?langs=de")
    (tmp_path / "train.en").write_text("one\n\nthree\n")
    with pytest.raises(DataError, match=r"train\.en:2: blank sentence"):
        read_parallel(f"multi30k:{tmp_path}?langs=de")
    (tmp_path / "train.de").write_text("eins\n\ndrei\n")
    assert list(read_parallel(f"multi30k:{tmp_path}?langs=de").english) == ["one", "three"]  # blank on both sides
    with pytest.raises(DataError, match="no Tatoeba file for 'xx'"):
        read_parallel(f"tatoeba:{tmp_path}?langs=xx")
    with pytest.raises(SpecError, match="unknown layout"):
        read_parallel(f"europarl:{tmp_path}")
    with pytest.raises(SpecError, match="give the languages"):
        read_parallel(f"tatoeba:{tmp_path}")
