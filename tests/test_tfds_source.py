"""TFDS round trip without TensorFlow: write_tfds -> tfds: reader, and TFDS's own reader."""

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow_datasets")
pytest.importorskip("array_record")

from xlgraph.data.corpus import SPLITS, Corpus, Doc  # noqa: E402
from xlgraph.data.readers import load_corpus  # noqa: E402
from xlgraph.data.readers.tfds_source import write_tfds  # noqa: E402
from xlgraph.errors import DataError, SpecError, XlgraphError  # noqa: E402

DOCS = [
    Doc("The movie was great", "en", "pos", "train", "en-1"),
    Doc("Der Film war großartig", "de", "pos", "train", "de-1", translation_of="en-1"),
    Doc("หนังเรื่องนี้แย่มาก", "th", "neg", "train", "th-1"),
    Doc("no id here, tab\there", "en", "neg", "train"),
    Doc("Una película aburrida", "es", "neg", "dev", "es-1"),
    Doc("ภาพยนตร์ดี", "th", "pos", "dev", "th-2"),
    Doc("Ein langweiliger Film", "de", "neg", "test", "de-2"),
    Doc("ไม่มีป้ายกำกับ", "th", None, "test", "th-3"),
    Doc("unlabelled english\nwith a newline", "en", None, "unlabeled", "en-2"),
    Doc("sin etiqueta 😀", "es", None, "unlabeled", "es-2", translation_of="en-2"),
]
LABELS = ("neg", "pos", "unused")
TFDS_NAMES = {"train": "train", "dev": "validation", "test": "test", "unlabeled": "unlabeled"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    corpus = Corpus.from_docs(DOCS, labels=LABELS)
    out = tmp_path_factory.mktemp("tfds")
    path = write_tfds(corpus, out, name="xl_test", version="1.2.0")
    return corpus, out, path


def _spec(out, expr, **params):
    query = "&".join([f"data_dir={out}"] + [f"{k}={v}" for k, v in params.items()])
    return f"tfds:xl_test/{expr}?{query}"


def test_layout_is_a_tfds_dataset(written):
    _, out, path = written
    assert path == out / "xl_test" / "1.2.0"
    names = set(os.listdir(path))
    assert {"dataset_info.json", "features.json", "label.labels.txt"} <= names
    assert {n.split(".")[0] for n in names if ".array_record-" in n} == {
        f"xl_test-{s}" for s in ("train", "validation", "test", "unlabeled")}
    assert not (out / "downloads").exists()


@pytest.mark.parametrize("split", SPLITS)
def test_round_trip_per_split(written, split):
    corpus, out, _ = written
    back, skipped = load_corpus(_spec(out, TFDS_NAMES[split]))
    assert not skipped
    assert list(back.docs()) == [d for d in DOCS if d.split == split]
    assert back.labels == LABELS  # the ClassLabel fixes the label set, unused names and order included


def test_round_trip_all_splits(written):
    corpus, out, _ = written
    back, _ = load_corpus(_spec(out, "*"))
    assert list(back.docs()) == DOCS  # DOCS are in split order; cross-split links would survive too
    assert back.labels == corpus.labels


def test_tfds_reads_it_back_itself(written):
    import tensorflow_datasets as tfds

    _, _, path = written
    builder = tfds.builder_from_directory(path)
    assert builder.info.features["label"].names == list(LABELS)
    test = builder.as_data_source("test")
    assert len(test) == 2
    first, second = test[0], test[1]
    assert first["text"].decode() == "Ein langweiliger Film" and first["lang"] == b"de" and first["label"] == 0
    assert second["label"] == -1 and second["id"] == b"th-3" and second["translation_of"] == b""
    unlabeled = builder.as_data_source("unlabeled")
    assert unlabeled[1]["translation_of"] == b"en-2"


def test_split_expressions_and_params(written):
    _, out, _ = written
    half, _ = load_corpus(_spec(out, "train[:50%]"))
    assert half.text.tolist() == [d.text for d in DOCS[:2]]
    both, _ = load_corpus(_spec(out, "validation+test[1:]"))
    assert [(d.text, d.split) for d in both.docs()] == [(d.text, d.split) for d in DOCS[4:6] + DOCS[7:8]]
    moved, _ = load_corpus(_spec(out, "test", split="unlabeled", label="", lang="xx", id=""))
    assert {(d.split, d.label, d.lang, d.id) for d in moved.docs()} == {("unlabeled", None, "xx", None)}
    by_lang, _ = load_corpus(_spec(out, "train", label="lang", translation=""))
    assert by_lang.labels == ("de", "en", "th")  # a Text label feature gives its values
    with pytest.raises(SpecError, match="no split 'nope'"):
        load_corpus(_spec(out, "nope"))
    with pytest.raises(SpecError, match="text=body: no such feature"):
        load_corpus(_spec(out, "train", text="body"))


def test_missing_dataset_is_a_clear_error_and_downloads_nothing(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def forbidden(*args, **kwargs):
        raise AssertionError("tried to download or prepare")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", forbidden)
    for name in ("no_such_dataset", "mnist"):  # mnist: a registered TFDS dataset, still never downloaded
        with pytest.raises(DataError, match=f"TFDS dataset '{name}' is not prepared in {tmp_path}.*never downloads"):
            load_corpus(f"tfds:{name}/train?data_dir={tmp_path}")
    assert os.listdir(tmp_path) == []
    with pytest.raises(DataError, match="no such directory"):
        load_corpus(f"tfds:x/train?data_dir={tmp_path / 'absent'}")
    with pytest.raises(SpecError, match="expected tfds:NAME/SPLIT"):
        load_corpus(f"tfds:xl_test?data_dir={tmp_path}")


@pytest.mark.parametrize("bad, at, problem", [("  ", 1, "record 1: empty text"),
                                              ("nul\0inside", 2, "NUL byte in the text of record 2$")])
def test_a_bad_text_is_a_bad_record_at_its_index(tmp_path, bad, at, problem):
    docs = [Doc("fine", "en", "a"), Doc("also fine", "th", None)]
    corpus = Corpus.from_docs([*docs[:at], Doc(bad, "en", "a"), *docs[at:]])
    write_tfds(corpus, tmp_path, name="with_bad")
    spec = f"tfds:with_bad/train?data_dir={tmp_path}"
    with pytest.raises(DataError, match=rf"\[train\]:{at}: {problem}"):
        load_corpus(spec)
    back, skipped = load_corpus(spec, skip_bad_rows=True)
    assert back.text.tolist() == ["fine", "also fine"] and [e.line for e in skipped] == [at]


def test_writer_checks(tmp_path):
    corpus = Corpus.from_docs([Doc("x", "en", "a", "test")])
    write_tfds(corpus, tmp_path, name="once")
    with pytest.raises(XlgraphError, match="already exists"):
        write_tfds(corpus, tmp_path, name="once")
    write_tfds(Corpus.from_docs([Doc("y", "de", None, "test")]), tmp_path, name="once", overwrite=True)
    back, _ = load_corpus(f"tfds:once:1.0.0/test?data_dir={tmp_path}")
    assert list(back.docs()) == [Doc("y", "de", None, "test")] and back.labels == ()
    with pytest.raises(XlgraphError, match="snake_case"):
        write_tfds(corpus, tmp_path, name="Not-A-Name")
    with pytest.raises(XlgraphError, match="MAJOR.MINOR.PATCH"):
        write_tfds(corpus, tmp_path, name="v", version="1.0")
    with pytest.raises(XlgraphError, match="cannot be stored"):
        write_tfds(Corpus.from_docs([Doc("x", "en", " padded")]), tmp_path, name="bad_label")


def test_no_tensorflow_is_imported(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from xlgraph.data.corpus import Corpus, Doc
        from xlgraph.data.readers import load_corpus
        from xlgraph.data.readers.tfds_source import write_tfds
        write_tfds(Corpus.from_docs([Doc("สวัสดี", "th", "a"), Doc("hi", "en", None, "test")]), {str(tmp_path)!r},
                   name="tf_free")
        back, _ = load_corpus("tfds:tf_free/*?data_dir={tmp_path}")
        import tensorflow_datasets as tfds
        tfds.builder_from_directory({str(tmp_path / "tf_free" / "1.0.0")!r}).as_data_source("train")[0]
        assert len(back) == 2, len(back)
        assert "tensorflow_datasets" in sys.modules
        print("tensorflow" in sys.modules)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "False"


def _damaged_copy(written, tmp_path, damage):
    """A copy of the written dataset (data_dir, dataset dir) with `damage(dataset dir)` applied."""
    import shutil

    _, out, path = written
    shutil.copytree(out, tmp_path / "data")
    damage(tmp_path / "data" / path.relative_to(out))
    return tmp_path / "data", tmp_path / "data" / path.relative_to(out)


def _shard(path, split="train"):
    return next(path / n for n in sorted(os.listdir(path)) if f"-{split}.array_record-" in n)


@pytest.mark.parametrize("damage, problem", [
    (lambda p: _shard(p).unlink(), r"-train\.array_record-00000-of-00001: missing \(shard 1 of 1 of split 'train'"),
    (lambda p: os.truncate(_shard(p), 0), r"-train\.array_record-00000-of-00001: empty \(0 bytes"),
    (lambda p: os.truncate(_shard(p), os.path.getsize(_shard(p)) - 100),
     r"-train\.array_record-00000-of-00001: records 0\.\.3 of split 'train' cannot be read"),
    (lambda p: os.truncate(_shard(p), 65536),
     r"-train\.array_record-00000-of-00001: record 0 of split 'train' is empty: the file is truncated or corrupt"),
    (lambda p: (p / "dataset_info.json").unlink(), r"/dataset_info\.json: missing; the dataset is damaged"),
    (lambda p: os.truncate(p / "dataset_info.json", 0), r"/dataset_info\.json: empty \(0 bytes\)"),
    (lambda p: os.truncate(p / "dataset_info.json", 40), r"/dataset_info\.json:\d+: not valid JSON .*truncated"),
    (lambda p: (p / "dataset_info.json").write_text('{"name": 3}'), r"/dataset_info\.json: not a TFDS DatasetInfo"),
    (lambda p: os.truncate(p / "features.json", 30), r"/features\.json:\d+: not valid JSON"),
])
def test_damaged_dataset_is_one_error_naming_the_file(written, tmp_path, damage, problem):
    data_dir, _ = _damaged_copy(written, tmp_path, damage)
    with pytest.raises(DataError, match=problem) as info:
        load_corpus(_spec(data_dir, "train"))
    assert len(str(info.value).splitlines()) == 1 and str(data_dir) in info.value.path
    if "train" in problem:  # the other splits' shards are whole
        back, _ = load_corpus(_spec(data_dir, "test"))
        assert len(back) == 2
