"""Word-embedding classifiers through the fine-tuning method (`model.arch`): a tiny run of each model on the
embedded sample with tiny word vectors (MF-CNN with FGSM on its word embeddings, HAN + sentence alignment, bi-GRU-Att
in mono mode, FT-MLP with self-learning; FT-MLP again under CLHG in test_word_vectors.py), `xlgraph eval` of a
finished run, and the errors a user gets for a bad setup."""

import json
import zlib
from collections import Counter

import numpy as np
import pytest

from xlgraph.cli import main
from xlgraph.config import apply_overrides, default_config
from xlgraph.data.readers import load_corpus
from xlgraph.errors import XlgraphError
from xlgraph.text.vectors import keyed_vectors, save_vectors
from xlgraph.text.words import words

DIM = 8


def vector(lang: str, word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(f"{lang}/{word}".encode())).standard_normal(DIM).astype(np.float32)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """Per-language vector files of the sample's words seen twice or more (rarer ones stay unknown)."""
    out = tmp_path_factory.mktemp("vectors")
    corpus, _ = load_corpus("sample:mtod")
    paths = {}
    for lang in corpus.langs:
        counts = Counter(w for t in corpus.text[corpus.lang == lang] for w in words(t))
        vocab = [w for w, n in counts.most_common() if n >= 2]
        paths[lang] = save_vectors(keyed_vectors(vocab, np.stack([vector(lang, w) for w in vocab])),
                                   out / f"{lang}.vec")
    return paths


def args(vectors, workdir, *extra):
    listed = ",".join(f'"{lang}={path}"' for lang, path in vectors.items())
    return ["train", f"embeddings.vectors=[{listed}]", "data.max_train=96", "data.max_eval=32", "tokens.max_length=16",
            "tokens.buckets=(16,)", "train.batch_size=32", "train.eval_batch_size=32", "train.epochs=2",
            "train.lr=3e-3", "train.log_every=1", "embeddings.cnn.filters=8", "embeddings.gru.units=4",
            "embeddings.han.units=4", "embeddings.han.words_per_sentence=8", *extra, "--workdir", str(workdir)]


@pytest.fixture(scope="module")
def cnn_run(vectors, tmp_path_factory):
    """MF-CNN with FGSM on its word embeddings and the paper's class weights, through the CLI."""
    run = tmp_path_factory.mktemp("runs") / "cnn"
    assert main(args(vectors, run, "model.arch=cnn", "adversarial.enabled=true", "embeddings.class_weights=true")) == 0
    return run


def test_cnn_with_fgsm_trains_and_reports_coverage(cnn_run, vectors):
    r = json.loads((cnn_run / "results.json").read_text())
    assert r["method"] == "finetune + adversarial" and r["encoder"] == "cnn on multi word vectors"
    assert set(r["per_language"]) == {"es", "th"} and all(m["n"] == 32 for m in r["per_language"].values())
    assert r["selection_per_language"]["en"]["n"] == 32
    voc = r["vocabulary"]
    assert set(voc["coverage"]) == {"en", "es", "th"} and voc["dim"] == DIM
    for lang, c in voc["coverage"].items():  # the words seen once in the sample have no vector
        assert 0 < c["unknown_share"] < 1 and c["unknown"] < c["tokens"]
    assert voc["size"] == 1 + sum(1 + n for n in voc["words"].values())
    saved = json.loads((cnn_run / "vocab.json").read_text())
    assert {lang: len(w) for lang, w in saved["words"].items()} == voc["words"]
    rows = [json.loads(line) for line in (cnn_run / "metrics.jsonl").read_text().splitlines()]
    losses = [row["train/loss"] for row in rows if "train/loss" in row]
    assert len(losses) == 6 and losses[-1] < losses[0]  # 3 batches × 2 epochs; clean + adversarial loss falls


def test_eval_of_a_finished_run_rebuilds_vocabulary_and_weights(cnn_run, capsys):
    """`xlgraph eval` reads vocab.json and the checkpoint; on the run's own evaluation documents it reproduces the
    run's scores exactly."""
    from xlgraph.config import load_config
    from xlgraph.data.splits import splits
    from xlgraph.methods.finetune import evaluate_corpus

    r = json.loads((cnn_run / "results.json").read_text())
    corpus, _ = load_corpus("sample:mtod")
    again = evaluate_corpus(cnn_run, corpus.take(splits(corpus, load_config(cnn_run)).eval))
    assert again["per_language"] == r["per_language"] and again["checkpoint_step"] == r["checkpoint_step"]
    assert main(["eval", str(cnn_run), "--data", "sample:mtod?langs=th"]) == 0
    out = capsys.readouterr().out
    assert "cnn on multi word vectors" in out and "th    1000" in out


def test_fgsm_perturbs_the_cnns_word_embeddings_not_its_frozen_table():
    """The adversarial direction is the loss gradient at the looked-up vectors: zero at padding, steeper than the
    clean loss (the adversarial half is larger), and the frozen table gets no gradient from either half."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from xlgraph.models.text import build_text_model
    from xlgraph.objectives.adversarial import fgsm
    from xlgraph.objectives.classification import classification_loss

    rng = np.random.default_rng(0)
    table = rng.standard_normal((20, 6)).astype(np.float32)
    table[0] = 0
    model = build_text_model("cnn", table, 3, rngs=nnx.Rngs(0), filters=4, dropout=0.0)
    graphdef, params = nnx.split(model)
    mask = (np.arange(7)[None] < np.array([[7], [4], [2]])).astype(np.int32)
    batch = {"input_ids": jnp.asarray(rng.integers(1, 20, (3, 7)) * mask, jnp.int32), "attention_mask": mask,
             "labels": jnp.array([0, 1, 2]), "weight": jnp.ones(3)}

    def loss_at(delta):
        return classification_loss(nnx.merge(graphdef, params), batch, None, embed_delta=delta)[0]

    clean, g = jax.jit(jax.value_and_grad(loss_at))(jnp.zeros((3, 7, 6)))
    assert np.all(np.asarray(g)[mask == 0] == 0) and np.all(np.abs(np.asarray(g)).sum(-1)[mask == 1] > 0)
    loss, _, grads = jax.jit(fgsm(epsilon=1.0), static_argnums=0)(graphdef, params, batch, jax.random.key(0))
    assert float(loss) > 2 * float(clean)
    assert not np.any(np.asarray(grads["embed"]["table"][...]))  # frozen: stop_gradient in the lookup
    assert np.any(np.asarray(grads["head"]["kernel"][...]))


def test_han_with_sentence_alignment(vectors, tmp_path):
    """HAN in its sentence layout, alternating with the cosine loss on (here: made up) Spanish-English pairs."""
    parallel = tmp_path / "parallel"
    parallel.mkdir()
    (parallel / "train.es").write_text("pon una alarma\nqué tiempo hace\ncancela el recordatorio\n")
    (parallel / "train.en").write_text("set an alarm\nwhat is the weather\ncancel the reminder\n")
    run = tmp_path / "han"
    assert main(args(vectors, run, "model.arch=han", "train.epochs=1", "embeddings.sentence_alignment=true",
                     f"embeddings.parallel=multi30k:{parallel}?langs=es", "embeddings.freeze=false")) == 0
    r = json.loads((run / "results.json").read_text())
    assert r["method"] == "finetune + sentence alignment" and set(r["per_language"]) == {"es", "th"}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(0 <= row["train/align_loss"] <= 2 for row in rows if "train/loss" in row)


def test_mono_gru_and_self_learning_mlp(vectors, tmp_path):
    """Mono: bi-GRU-Att on English alone with its own vectors (the sample has no English test: dev is all it
    scores). Self-learning then trains an MLP with pseudo-labels from the Spanish and Thai pool (multi mode)."""
    mono = tmp_path / "mono"
    assert main(args(vectors, mono, "model.arch=gru", "embeddings.mode=mono", "train.epochs=1")) == 0
    r = json.loads((mono / "results.json").read_text())
    assert r["encoder"] == "gru on mono word vectors"
    assert r["per_language"] == {} and set(r["selection_per_language"]) == {"en"}
    assert set(r["vocabulary"]["words"]) == {"en"} and set(json.loads((mono / "vocab.json").read_text())["words"]) == {"en"}
    sl = tmp_path / "sl"
    assert main(args(vectors, sl, "method=self_learning", "model.arch=mlp", "train.epochs=1",
                     "self_learning.rounds=1", "self_learning.per_class=2")) == 0
    r = json.loads((sl / "results.json").read_text())
    assert r["method"] == "self-learning" and r["self_learning"]["rounds"][0]["selected"] > 0
    assert "vocabulary" in r and set(r["per_language"]) == {"es", "th"}


def test_training_languages_and_selection_follow_data_train_langs():
    from xlgraph.data.corpus import Corpus, Doc
    from xlgraph.data.splits import selection_label, splits

    docs = [Doc(f"{lang} {split} {i}", lang, "a" if i % 2 else "b", split) for lang in ("en", "de", "fr")
            for split in ("train", "dev", "test") for i in range(4)]
    corpus = Corpus.from_docs(docs)
    cfg = apply_overrides(default_config(), ['data.train_langs=["en","de"]'])
    parts = splits(corpus, cfg).parts(corpus)
    assert Counter(parts["train"].lang.tolist()) == {"en": 4, "de": 4}
    assert Counter(parts["select"].lang.tolist()) == {"en": 4, "de": 4}
    assert len(splits(corpus, cfg).train) == 8 and len(splits(corpus, cfg).select) == 8
    assert "en/de dev" in selection_label(cfg, True)
    cfg.select.on = "target_dev"
    assert set(splits(corpus, cfg).parts(corpus)["select"].lang.tolist()) == {"fr"}


def test_config_holds_every_models_hyperparameters():
    from xlgraph.models.text import TEXT_MODELS, hyperparameters

    cfg = default_config()
    for arch in TEXT_MODELS:
        assert {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.embeddings[arch].to_dict().items()} == \
            hyperparameters(arch)


@pytest.mark.parametrize("overrides, message", [
    (["model.arch=cnn"], "set embeddings.vectors"),
    (["model.arch=cnn", "embeddings.vectors=en"], "expected LANG=PATH"),
    (["model.arch=rnn", "embeddings.vectors=en=x.vec"], "model.arch: must be one of encoder, mlp, cnn, gru, han, got 'rnn'"),
    (["model.arch=cnn", "embeddings.mode=mono", "embeddings.vectors=es=x.vec"], "no embeddings.vectors entry"),
    (["model.arch=cnn", "embeddings.sentence_alignment=true", "embeddings.vectors=en=x.vec"], "needs model.arch=han"),
])
def test_bad_setups_are_refused_with_a_hint(overrides, message, tmp_path):
    from xlgraph.methods.finetune import train_and_evaluate

    with pytest.raises(XlgraphError, match=message):
        train_and_evaluate(apply_overrides(default_config(), overrides), tmp_path)


def test_missing_language_and_han_buckets(vectors, tmp_path, capsys):
    only_en = {"en": vectors["en"]}
    assert main(args(only_en, tmp_path / "a", "model.arch=mlp")) == 2
    assert "documents in es, th but no word vectors for them" in capsys.readouterr().err
    assert main(args(vectors, tmp_path / "b", "model.arch=han", "tokens.buckets=(12,16)")) == 2
    assert "multiples of 8" in capsys.readouterr().err


@pytest.mark.parametrize("arch, width", [("mlp", "embeddings.mlp.hidden=10000000000"),
                                         ("cnn", "embeddings.cnn.filters=10000000000"),
                                         ("gru", "embeddings.gru.units=100000000")])
def test_a_huge_width_is_refused_before_the_model_is_built(arch, width, vectors, tmp_path, capsys, monkeypatch):
    from xlgraph.families import words as word_family

    builds = []
    real = word_family.build_model

    def spy(cfg, vocab, num_labels, *, abstract=False):
        builds.append(abstract)
        return real(cfg, vocab, num_labels, abstract=abstract)

    monkeypatch.setattr(word_family, "build_model", spy)
    run = tmp_path / "run"
    assert main(args(vectors, run, f"model.arch={arch}", width)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("xlgraph: error: the training step (batch 32 × 16 tokens") and "memory is available" in err
    assert builds == [True]  # checked from the shapes alone: the weights were never allocated
    assert not (run / "config.json").exists()
