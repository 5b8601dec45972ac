"""UPOS tagging: a small spaCy tagger trained on a real UD treebank tags held-out sentences well, loads back (also
with plain spaCy in a fresh process), returns UPOS only; the CLI trains and tags; errors say what to do."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter

import pytest

from xlgraph.cli import main
from xlgraph.data.readers import ReadContext
from xlgraph.data.readers.conllu import read_sentences
from xlgraph.errors import DataError, ModelLoadError, XlgraphError
from xlgraph.text.pos import CONTENT_POS, UPOS, evaluate_tagger, load_tagger, tag, train_tagger

TRAIN_SENTENCES = 1000


@pytest.fixture(scope="module")
def spanish(shared_data):
    folder = shared_data("ud_pos") / "UD_Spanish-GSD"
    train, test = folder / "es_gsd-ud-dev.conllu", folder / "es_gsd-ud-test.conllu"
    if not (train.is_file() and test.is_file()):
        pytest.skip(f"{folder} lacks its dev/test files")
    return train, test


@pytest.fixture(scope="module")
def trained(spanish, tmp_path_factory):
    train, _ = spanish
    return train_tagger(train, tmp_path_factory.mktemp("pos") / "es", lang="es", epochs=3,
                        max_sentences=TRAIN_SENTENCES, seed=0)


def test_tag_sets():
    assert len(UPOS) == len(set(UPOS)) == 17
    assert set(CONTENT_POS) <= set(UPOS) and len(CONTENT_POS) == 10


def test_beats_majority_tag_on_held_out_sentences(spanish, trained):
    train, test = spanish  # different files of the treebank: no test sentence was trained on
    train_tags = [p for s in list(read_sentences(train, ReadContext()))[:TRAIN_SENTENCES] for p in s.upos]
    majority = Counter(train_tags).most_common(1)[0][0]
    gold = [p for s in read_sentences(test, ReadContext()) for p in s.upos]
    baseline = sum(p == majority for p in gold) / len(gold)
    accuracy = evaluate_tagger(load_tagger(trained, lang="es"), test)
    print(f"held-out UPOS accuracy {accuracy:.4f}, majority tag ({majority}) {baseline:.4f}")
    assert accuracy > 0.80 and accuracy > baseline + 0.5


def test_tag_returns_upos_only(trained):
    nlp = load_tagger(trained)
    assert nlp.pipe_names == ["tok2vec", "tagger", "attribute_ruler"]
    texts = ["El perro corre por la calle.", "  Madrid es  una ciudad\n\ngrande!", "", "xyzzy 42 @#"]
    tagged = tag(nlp, texts, batch_size=2)
    assert len(tagged) == len(texts) and tagged[2] == []
    assert [w for w, _ in tagged[1]] == ["Madrid", "es", "una", "ciudad", "grande", "!"]  # no whitespace tokens
    assert all(p in UPOS for doc in tagged for _, p in doc)
    assert dict(tagged[0])["perro"] == "NOUN" and dict(tagged[0])["."] == "PUNCT"
    with nlp.select_pipes(disable=["attribute_ruler"]):  # pos_ unset: the tag (a UPOS label) is used
        assert tag(nlp, texts) == tagged


def test_tag_falls_back_to_attribute_ruler_map_then_x():
    import spacy
    from spacy.tokens import Doc

    from xlgraph.text.pos import _upos_of

    nlp = spacy.blank("en")
    nlp.add_pipe("attribute_ruler").add(patterns=[[{"TAG": "NN"}]], attrs={"POS": "NOUN"})
    doc = Doc(nlp.vocab, words=["dog", "runs", "fast", "and"], tags=["NN", "VERB", "RB", "CC"])
    doc[3].pos_ = "CONJ"  # UD v1
    assert [_upos_of(nlp)(t) for t in doc] == ["NOUN", "VERB", "X", "CCONJ"]


def test_saved_tagger_loads_with_plain_spacy_in_a_fresh_process(trained):
    code = ("import sys, spacy; nlp = spacy.load(sys.argv[1]); "
            "print(' '.join(t.pos_ for t in nlp('La casa es grande .')))")
    out = subprocess.run([sys.executable, "-c", code, str(trained)], capture_output=True, text=True, check=True)
    tags = out.stdout.split()
    assert len(tags) == 5 and set(tags) <= set(UPOS) and tags[-1] == "PUNCT"


def test_cli_train_and_tag(spanish, tmp_path, capsys):
    _, test = spanish
    out = tmp_path / "cli"
    assert main(["pos", "train", str(test), str(out), "--lang", "es", "--epochs", "1", "--max-sentences", "40"]) == 0
    assert (out / "config.cfg").is_file()
    assert load_tagger(out).meta["xlgraph"]["sentences"] == 40
    capsys.readouterr()
    assert main(["pos", "tag", str(out), "Hola mundo .", "Adiós"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(w.rsplit("/", 1)[1] in UPOS for line in lines for w in line.split())
    assert main(["pos", "tag", "no_such_pipeline", "x"]) == 2
    assert "xlgraph pos train" in capsys.readouterr().err


def test_load_errors(tmp_path, trained):
    import spacy

    with pytest.raises(XlgraphError, match="xlgraph pos train"):
        load_tagger("no_such_pipeline")
    with pytest.raises(ModelLoadError, match="no config.cfg"):
        load_tagger(tmp_path)
    spacy.blank("es").to_disk(tmp_path / "blank")
    with pytest.raises(ModelLoadError, match="no tagger or morphologizer"):
        load_tagger(tmp_path / "blank")
    with pytest.raises(ModelLoadError, match="not 'de'"):
        load_tagger(trained, lang="de")


@pytest.mark.parametrize("lang, package", [("ja", "sudachipy"), ("th", "pythainlp")])
def test_ja_th_need_their_tokenizer_package(monkeypatch, tmp_path, lang, package):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else find_spec(name, *a))
    (tmp_path / "x.conllu").write_text("1\tx\t_\tNOUN\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(XlgraphError, match=f"pip install {package}"):
        train_tagger(tmp_path / "x.conllu", tmp_path / "out", lang=lang)
    with pytest.raises(XlgraphError, match=package):
        load_tagger("no_such_pipeline", lang=lang)


def test_bad_upos_names_file_and_sentence(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text("# sent_id = s1\n1\tHola\t_\tINTJ\t_\t_\t0\troot\t_\t_\n\n"
                    "# sent_id = s2\n1\tmundo\t_\t_\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(DataError, match=r"bad\.conllu: sentence s2: UPOS '_'"):
        train_tagger(path, tmp_path / "out", lang="es")


def test_japanese_tagger_overwrites_sudachi_tags(tmp_path):
    """spaCy's Japanese tokenizer sets tag_ and pos_ from Sudachi (アラーム: NOUN); a trained tagger must replace
    them — here with a deliberately different PROPN."""
    sentences = [(["明日", "の", "朝", "に", "アラーム", "を", "セット", "する"],
                  ["NOUN", "ADP", "NOUN", "ADP", "PROPN", "ADP", "VERB", "AUX"]),
                 (["朝", "の", "アラーム", "を", "消す"], ["NOUN", "ADP", "PROPN", "ADP", "VERB"])]
    lines = []
    for n, (words, tags) in enumerate(sentences):
        lines.append(f"# sent_id = s{n}")
        lines += [f"{i}\t{w}\t_\t{t}\t_\t_\t0\t_\t_\t_" for i, (w, t) in enumerate(zip(words, tags), 1)]
        lines.append("")
    (tmp_path / "ja.conllu").write_text("\n".join(lines) + "\n")
    nlp = load_tagger(train_tagger(tmp_path / "ja.conllu", tmp_path / "ja", lang="ja", epochs=30), lang="ja")
    tagged = tag(nlp, ["朝のアラームを消す"])[0]
    assert [w for w, _ in tagged] == ["朝", "の", "アラーム", "を", "消す"]
    assert [p for _, p in tagged] == ["NOUN", "ADP", "PROPN", "ADP", "VERB"]
