"""The deep CNN method: the model's masking, the max-norm constraint, the multi-label metrics, the MTOD label
sets, the word vocabulary, the step (one compilation per bucket), and a short end-to-end run on the embedded
sample. Shapes are tiny; the paper's sizes are the config defaults."""

from __future__ import annotations

import gzip
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from xlgraph.config import default_config
from xlgraph.data.multilabel import DOMAINS, MultiLabel, parse_parts, require_annotated
from xlgraph.data.readers import load_corpus
from xlgraph.data.sample import SAMPLE_DIR
from xlgraph.errors import DataError, SpecError, XlgraphError
from xlgraph.eval.metrics import multilabel_metrics
from xlgraph.methods import METHODS
from xlgraph.methods.deep_cnn import jaccard_rows, make_multilabel_step, vocabulary, with_targets
from xlgraph.models.deep_cnn import DeepCNN, max_norm_mask
from xlgraph.objectives.nce import noise_log_probs
from xlgraph.text.vectors import keyed_vectors, save_vectors
from xlgraph.text.vocab import ANY, load_vocab
from xlgraph.train.optim import max_norm
from xlgraph.train.steps import init_state

TINY = dict(embed_dim=16, filters=8, windows=(6, 4), parallel=(2, 3), dropout=0.5)


def tiny_model(vocab=40, labels=5, seed=0, **kw):
    return DeepCNN(vocab, labels, **{**TINY, **kw}, rngs=nnx.Rngs(seed))


def scorer(model):
    """The model's eval-mode scores as one jitted function (one compilation per shape, not one per op)."""
    graphdef, params = nnx.split(model)
    run = jax.jit(lambda params, ids, mask: nnx.merge(graphdef, params)(ids, mask))
    return lambda ids, mask: np.asarray(run(params, jnp.asarray(ids), jnp.asarray(mask)))


# --- model ----------------------------------------------------------------------------------------------------


def test_padding_never_changes_the_scores():
    score = scorer(tiny_model())
    rng = np.random.default_rng(0)
    lengths = np.array([1, 2, 4, 5])
    real = np.arange(4 * 5).reshape(4, 5) % 38 + 2
    outs = []
    for width in (5, 11):  # narrower than the widest window (6: the model pads) and wider
        ids = rng.integers(2, 40, (4, width))  # garbage in the padded positions, not zeros
        ids[:, :5] = np.where(np.arange(5)[None] < lengths[:, None], real, ids[:, :5])
        mask = (np.arange(width)[None] < lengths[:, None]).astype(np.int32)
        outs.append(score(ids, mask))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    # and the check can fail: a real token does move the scores
    mask = (np.arange(5)[None] < lengths[:, None]).astype(np.int32)
    moved = real.copy()
    moved[3, 4] = 39
    assert not np.allclose(score(real, mask)[3], score(moved, mask)[3])


def test_shapes_windows_and_vector_initialisation():
    table = np.random.default_rng(0).normal(size=(40, 16)).astype(np.float32)
    model = tiny_model(embeddings=table)  # the test's shapes throughout: eager initialisers compile per shape
    assert [c.kernel.shape for c in model.stack] == [(6, 16, 8), (4, 8, 8)]
    assert [c.kernel.shape for c in model.branches] == [(2, 8, 8), (3, 8, 8)] and model.out.kernel.shape == (16, 5)
    np.testing.assert_array_equal(model.embedding_table.value, table)
    assert scorer(model)(np.ones((3, 8), np.int32), np.ones((3, 8), np.int32)).shape == (3, 5)
    with pytest.raises(ValueError, match="39 embedding rows for a vocabulary of 40"):
        tiny_model(embeddings=table[:39])


def test_frozen_embeddings_get_no_update_and_trained_ones_do():
    ids, mask = jnp.array([[2, 3, 4, 0]]), jnp.array([[1, 1, 1, 0]])
    for frozen in (True, False):
        graphdef, params = nnx.split(tiny_model(freeze_embeddings=frozen))
        grads = jax.jit(jax.grad(lambda p: jnp.sum(nnx.merge(graphdef, p)(ids, mask))))(params)
        assert bool(jnp.any(grads["embed"]["table"].value != 0)) is not frozen
        assert bool(jnp.any(grads["stack"][0]["kernel"].value != 0))


# --- max-norm ---------------------------------------------------------------------------------------------------


def test_max_norm_holds_after_an_update_that_would_break_it():
    graphdef, params = nnx.split(tiny_model())
    tx = optax.chain(optax.sgd(1.0), max_norm(5.0, mask=max_norm_mask))
    big = jax.tree.map(lambda p: -10.0 * jnp.ones_like(p), params)  # sgd: params + 10 everywhere
    new = jax.jit(lambda g, p: optax.apply_updates(p, tx.update(g, tx.init(p), p)[0]))(big, params)
    raw = jax.tree.map(lambda p: p + 10.0, params)
    for path in (("stack", 0), ("stack", 1), ("branches", 1), ("out",)):
        node = new
        for key in path:
            node = node[key]
        kernel = node["kernel"].value
        norms = np.sqrt(np.sum(np.square(np.asarray(kernel)), axis=tuple(range(kernel.ndim - 1))))
        assert norms.shape == (kernel.shape[-1],)  # one weight vector per output filter / label
        np.testing.assert_allclose(norms, 5.0, rtol=1e-5)
        # the constrained vector points where the unconstrained update took it
        rawk = raw
        for key in path:
            rawk = rawk[key]
        rawk = np.asarray(rawk["kernel"].value)
        np.testing.assert_allclose(kernel, rawk * 5.0 / np.sqrt(np.sum(rawk ** 2, axis=tuple(range(rawk.ndim - 1)))),
                                   rtol=1e-5)
    # biases and the embedding table are not constrained
    np.testing.assert_allclose(new["out"]["bias"].value, raw["out"]["bias"].value)
    np.testing.assert_allclose(new["embed"]["table"].value, raw["embed"]["table"].value)
    assert np.linalg.norm(np.asarray(new["embed"]["table"].value), axis=0).max() > 5


def test_max_norm_leaves_short_vectors_alone_and_needs_params():
    params = {"w": jnp.array([[3.0, 0.1], [4.0, 0.1]]), "b": jnp.array([100.0, 0.0])}  # column norms 5, ~0.14
    tx = max_norm(5.0)
    updates, _ = tx.update({"w": jnp.array([[0.3, 0.2], [0.4, 0.2]]), "b": jnp.zeros(2)}, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["w"][:, 0], [3.0, 4.0], rtol=1e-6)  # 5.5 → back to 5, same direction
    np.testing.assert_allclose(new["w"][:, 1], [0.3, 0.3], rtol=1e-6)  # within the limit: the plain update
    np.testing.assert_allclose(new["b"], [100.0, 0.0])
    with pytest.raises(ValueError, match="needs the current params"):
        tx.update(params, tx.init(params))


# --- metrics ----------------------------------------------------------------------------------------------------


def test_multilabel_metrics_by_hand():
    gold = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]], bool)
    pred = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]], bool)
    m = multilabel_metrics(gold, pred)
    assert m["n"] == 3
    assert m["jaccard"] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    assert m["exact_match"] == pytest.approx(1 / 3)
    # micro: tp 3, predicted 4, gold 4
    assert m["micro_precision"] == pytest.approx(3 / 4) and m["micro_recall"] == pytest.approx(3 / 4)
    assert m["micro_f1"] == pytest.approx(3 / 4)
    # macro over labels 0, 1, 2 (label 3 is in neither): F1 1, 0, 1
    assert m["macro_f1"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(jaccard_rows(jnp.asarray(pred), jnp.asarray(gold)), [0.5, 0.5, 1.0])
    assert multilabel_metrics(np.zeros((1, 2)), np.zeros((1, 2)))["jaccard"] == 1.0  # both empty: agreement


def test_multilabel_metrics_match_a_set_based_reference():
    rng = np.random.default_rng(1)
    gold, pred = rng.random((50, 6)) < 0.3, rng.random((50, 6)) < 0.4
    sets = [(set(np.flatnonzero(g)), set(np.flatnonzero(p))) for g, p in zip(gold, pred)]
    ref = np.mean([len(g & p) / len(g | p) if g | p else 1.0 for g, p in sets])
    assert multilabel_metrics(gold, pred)["jaccard"] == pytest.approx(ref)
    tp = sum(len(g & p) for g, p in sets)
    ref_micro = 2 * tp / (sum(len(p) for _, p in sets) + sum(len(g) for g, _ in sets))
    assert multilabel_metrics(gold, pred)["micro_f1"] == pytest.approx(ref_micro)


# --- data -------------------------------------------------------------------------------------------------------


def load_mtod(root, targets="domain+slots", skip_bad_rows=False, langs=None):
    spec = f"mtod:{root}?targets={targets}" + (f"&langs={','.join(langs)}" if langs else "")
    corpus, skipped = load_corpus(spec, skip_bad_rows=skip_bad_rows)
    return MultiLabel.from_corpus(corpus, spec), skipped


def test_mtod_label_sets_are_domain_plus_slot_types():
    data, skipped = load_mtod(SAMPLE_DIR, langs=["en", "es"])
    assert not skipped and data.names[:3] == DOMAINS
    with gzip.open(SAMPLE_DIR / "en" / "eval-en.tsv.gz", "rt") as f:
        intent, slots, text, *_ = f.readline().rstrip("\n").split("\t")
    first = data.where("en", "dev")
    assert first.corpus.text[0] == text.strip()
    expected = {intent.split("/")[0]} | {s.split(":")[2] for s in slots.split(",") if s}
    assert {n for n, on in zip(data.names, first.targets[0]) if on} == expected
    annotated = ~data.corpus.mask("en", "train")
    assert data.targets[annotated].any(1).all()  # the domain: no empty set, nothing dropped
    # the sample's English train file has no slot columns, and training on it is refused with the way out
    assert ("en", "train") not in data.annotated and ("en", "dev") in data.annotated
    with pytest.raises(XlgraphError, match="en/train: the file has no slot annotations.*en/test"):
        require_annotated(data, [("en", "train")], "deep_cnn.train")
    no_domain, _ = load_mtod(SAMPLE_DIR, "slots", langs=["es"])
    assert not set(DOMAINS) & set(no_domain.names) and not no_domain.targets.any(1).all()
    domain, _ = load_mtod(SAMPLE_DIR, "domain", langs=["en"])  # no slots asked for: every file is annotated
    assert domain.names == DOMAINS and domain.targets.sum(1).tolist() == [1] * len(domain)
    assert ("en", "train") in domain.annotated
    corpus, _ = load_corpus("sample:mtod?langs=es&targets=domain+slots")  # the columns survive take/concat/docs
    again = type(corpus).from_docs(list(corpus.take(np.arange(5, 50)).docs()), corpus.labels)
    assert again.target_sets() == corpus.take(np.arange(5, 50)).target_sets()
    for bad in ("", "slot", "domain+domain", "domain,slots"):
        with pytest.raises(SpecError, match="targets="):
            load_corpus(f"sample:mtod?targets={bad}")
    with pytest.raises(XlgraphError, match="no multi-label targets.*targets=domain\\+slots"):
        MultiLabel.from_corpus(load_corpus("sample:mtod?langs=es")[0], "sample:mtod?langs=es")


def test_bad_slot_span_names_file_and_line(tmp_path):
    (tmp_path / "es").mkdir()
    rows = ["alarm/set_alarm\t0:5:datetime\tPon una alarma\tes_XX\t",
            "alarm/set_alarm\t0:5:datetime,oops\tPon una alarma\tes_XX\t",
            "weather/find\t\tQué tiempo hace\tes_XX\t"]
    (tmp_path / "es" / "test-es.tsv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_mtod(tmp_path)
    assert (info.value.line, "oops" in info.value.problem) == (2, True)
    data, skipped = load_mtod(tmp_path, skip_bad_rows=True)
    assert len(data) == 2 and [e.line for e in skipped] == [2]
    assert data.targets.tolist() == [[1, 0, 1], [0, 1, 0]]  # alarm, weather, datetime


def test_parts():
    assert parse_parts(["en/test", "es/train"], "x") == [("en", "test"), ("es", "train")]
    with pytest.raises(XlgraphError, match="LANG/SPLIT"):
        parse_parts(["en-test"], "deep_cnn.train")


# --- vocabulary and embeddings ------------------------------------------------------------------------------------


def test_vocab_shared_strings_or_per_language_rows_from_vectors(tmp_path):
    """Without vectors, one set of strings over all languages (the paper); with them (embeddings.vectors), (language,
    word) rows: vector rows as the file has them, the rest random, each file adding its vectors_limit first words."""
    cfg = default_config()
    texts, langs = ["Set an alarm, an alarm!", "Pon una alarma 7"], ["en", "es"]
    shared, paths, found = vocabulary(cfg, texts, langs, ["th"])
    assert shared.shared and (paths, found, shared.table) == ({}, 0, None)
    assert shared.words[ANY][:3] == ("alarm", "an", "7")  # most frequent first
    tok = shared.tokenize(["alarm at 7", "alarma"], ["th", "th"], 5)
    assert tok.lengths.tolist() == [3, 1] and tok.ids[0, :3].tolist() == [2, 1, 4]  # unseen Thai reads shared strings
    vec = {"en": keyed_vectors(["alarm", "dog"], np.array([[1, 0, 0], [0, 1, 0]], np.float32)),
           "es": keyed_vectors(["perro", "alarma"], np.array([[0.9, 0.1, 0], [0, 0, 1]], np.float32))}
    cfg.embeddings.vectors = [f"{lang}={save_vectors(kv, tmp_path / f'{lang}.vec')}" for lang, kv in vec.items()]
    cfg.deep_cnn.vectors_limit = 1
    vocab, paths, found = vocabulary(cfg, texts, langs, ["th"])
    assert vocab.words == {"en": ("alarm", "an", "set"), "es": ("perro", "alarma", "7", "pon", "una"), "th": ()}
    assert found == 3 and set(paths) == {"en", "es"} and vocab.table.shape == (vocab.size, 3)
    np.testing.assert_array_equal(vocab.table[[0, vocab.row("en", "alarm")]], [[0, 0, 0], [1, 0, 0]])
    np.testing.assert_allclose(vocab.table[vocab.row("es", "perro")], [0.9, 0.1, 0], rtol=1e-6)
    assert vocab.table[vocab.row("en", "set")].any() and vocab.table[vocab.offsets["th"]].any()  # no vector: random
    assert vocab.row("es", "7") != vocab.row("en", "7") == vocab.offsets["en"]  # "7" is a Spanish row only
    cfg.deep_cnn.vectors = []  # a config written before the vocabularies were merged
    with pytest.raises(XlgraphError, match="deep_cnn.vectors is now embeddings.vectors"):
        vocabulary(cfg, texts, langs, [])


# --- step and method ----------------------------------------------------------------------------------------------


def test_step_compiles_once_per_bucket_and_fits_a_batch(loss="nce"):  # the softmax step: end to end below
    graphdef, params = nnx.split(tiny_model(dropout=0.0))
    tx = optax.chain(optax.adam(1e-2), max_norm(5.0, mask=max_norm_mask))
    step = make_multilabel_step(graphdef, tx, loss, log_q=noise_log_probs(np.ones(5)), num_sampled=3)
    rng = np.random.default_rng(0)
    targets = rng.random((8, 5)) < 0.4
    targets[np.arange(8), rng.integers(0, 5, 8)] = True
    state, first, last = init_state(params, tx), None, None
    for i in range(40):
        length = (8, 12)[i % 2]
        ids = np.zeros((8, length), np.int32)
        ids[:, :6] = np.arange(8)[:, None] * 3 + np.arange(6) % 3 + 2  # each row its own words
        batch = with_targets({"input_ids": ids, "attention_mask": (ids > 0).astype(np.int32),
                              "weight": np.ones(8, np.float32), "index": np.arange(8, dtype=np.int32)}, targets)
        state, metrics = step(state, batch, jax.random.key(0))
        first = first or float(metrics["loss"])
        last = metrics
    assert step._cache_size() == 2
    assert float(last["loss"]) < first and float(last["accuracy"]) > 0.9  # Jaccard of the rule's sets


def test_method_end_to_end_on_the_sample(tmp_path):
    cfg = default_config()
    cfg.method, cfg.data.sources, cfg.select.metric = "deep_cnn", ["sample:mtod?targets=domain+slots"], "jaccard"
    cfg.data.max_train, cfg.data.max_eval = 140, 60
    cfg.train.log_every, cfg.train.evals_per_epoch = 2, 2
    d = cfg.deep_cnn
    d.train, d.select, d.eval = ["en/dev"], ["en/dev"], ["es/test", "th/test"]
    d.embed_dim, d.filters, d.windows, d.parallel = (TINY[k] for k in ("embed_dim", "filters", "windows", "parallel"))
    d.max_length, d.buckets, d.min_label_count = 16, (16,), 5
    cfg.train.lr, cfg.train.batch_size, cfg.train.epochs = 1e-3, 35, 2
    d.loss = "softmax"
    vec = tmp_path / "es.vec"
    vec.write_text("2 16\n" + "".join(f"{w} " + " ".join(["0.1"] * 16) + "\n" for w in ("alarma", "hola")))
    cfg.embeddings.vectors = [f"es={vec}"]
    results = METHODS["deep_cnn"]()(cfg, tmp_path / "run")
    assert set(results["per_language"]) == {"es", "th"} and results["unseen_langs"] == ["es", "th"]
    assert set(results["selection_per_language"]) == {"en"}
    for m in [*results["per_language"].values(), *results["selection_per_language"].values()]:
        assert 0.0 <= m["jaccard"] <= 1.0 and m["accuracy"] == m["jaccard"] and m["n"] == 60
    assert results["labels"][:3] == list(DOMAINS) and results["embedding_rows_from_vectors"] == 2
    assert results["dropped_labels"] and all(c < 5 for c in results["dropped_labels"].values())
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["checkpoint_step"] == results["checkpoint_step"] > 0
    vocab = load_vocab(tmp_path / "run" / "vocab.json")  # es: only the vectors' words; th: its unknown row
    assert vocab.words["es"] == ("alarma", "hola") and vocab.words["th"] == () and vocab.size == results["vocab_size"]
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/jaccard" in r for r in rows) and any("train/loss" in r for r in rows)
