"""The classic CLTC models (FT-MLP, MF-CNN, bi-GRU-Att, HAN): padding never changes an output, the GRU's backward
direction and the CNN's pooling against plain references, each model trains through `make_train_step` with one
compilation, FGSM runs on them, and a frozen table gets neither a gradient, an update nor optimizer state."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xlgraph.errors import XlgraphError
from xlgraph.models.rnn import BiGRU
from xlgraph.models.text import TEXT_MODELS, build_text_model, frozen_mask, hyperparameters
from xlgraph.objectives.adversarial import fgsm
from xlgraph.objectives.classification import cross_entropy
from xlgraph.train import optim
from xlgraph.objectives.classification import classification_loss
from xlgraph.train.steps import init_state, make_predict_step, make_train_step

V, D, C = 30, 16, 3
W = 4  # HAN words per sentence
SMALL = {"mlp": {"hidden": 32}, "cnn": {"filters": 8}, "gru": {"units": 8},
         "han": {"units": 8, "words_per_sentence": W}}


def table(seed=0):
    e = np.random.default_rng(seed).normal(size=(V, D)).astype(np.float32)
    e[0] = 0.0
    return e


def build(name, *, freeze=True, seed=0, embeddings=None, **hparams):
    # rbg keys: threefry's per-shape initializer compilations would be a third of this file's time
    return build_text_model(name, table() if embeddings is None else embeddings, C, freeze=freeze,
                            rngs=nnx.Rngs(jax.random.key(seed, impl="rbg")), **{**SMALL[name], **hparams})


B = 8  # rows per batch, and the first length of each model: one compiled forward serves several tests
SHORT = {"mlp": 6, "cnn": 6, "gru": 6, "han": 3 * W}


def layout(rows, length, name, rng):
    """ids, mask of shape (B, length) holding `rows` (lists of token ids; for HAN lists of sentences) and empty
    rows after them, with random non-zero ids at the padded positions: only the mask may tell padding apart."""
    ids = rng.integers(1, V, (max(B, len(rows)), length))
    mask = np.zeros(ids.shape, np.int32)
    for i, row in enumerate(rows):
        for s, words in enumerate(row if name == "han" else [row]):
            start = s * W if name == "han" else 0
            ids[i, start:start + len(words)] = words
            mask[i, start:start + len(words)] = 1
    return jnp.asarray(ids, jnp.int32), jnp.asarray(mask)


def sample_rows(name):
    if name == "han":  # sentences of ≤ W words, an empty middle sentence, a one-word document
        return [[[3, 4, 5, 6], [7, 8]], [[9], [], [10, 11, 12]], [[13]], [[14, 15], [16, 17, 18, 19], [20]]]
    return [[3, 4, 5, 6, 7, 8], [9, 10], [11], [12, 13, 14]]


@functools.partial(jax.jit, static_argnums=0)
def outputs(graphdef, params, ids, mask, delta):
    """(logits, features, logits with embed_delta) in eval mode."""
    m = nnx.merge(graphdef, params)
    return m(ids, mask), m.features(ids, mask), m(ids, mask, embed_delta=delta)


def forward(model, ids, mask, delta=None):
    delta = jnp.zeros((*ids.shape, D)) if delta is None else delta
    return jax.device_get(outputs(*nnx.split(model), ids, mask, delta))


def shaken(model, seed=0):
    """`model` with noise on every parameter, as training leaves it: zero biases (and a zero padding row) hide
    unmasked padding, e.g. a GRU state stays exactly 0 through zero inputs when its biases are 0."""
    graphdef, params = nnx.split(model)
    rng = np.random.default_rng(seed)  # numpy: jax.random would compile once per parameter shape
    return nnx.merge(graphdef, jax.tree.map(lambda x: x + 0.3 * rng.normal(size=x.shape).astype(np.float32), params))


@pytest.mark.parametrize("name", list(TEXT_MODELS))
def test_padding_does_not_change_outputs(name):
    model = shaken(build(name))
    rng = np.random.default_rng(1)
    rows = sample_rows(name)
    short = SHORT[name]
    base = 0.1 * rng.normal(size=(B, short, D))
    outs = []
    for length in (short, short + 2 * W + 1 if name != "han" else short + 2 * W):  # HAN: 2 more empty sentences
        ids, mask = layout(rows, length, name, rng)
        # a perturbation: the same at real positions, huge and random at padded ones
        delta = np.zeros((B, length, D), np.float32)
        delta[:, :short] = base
        delta = np.where(np.asarray(mask)[..., None] == 1, delta, 1e4 * rng.normal(size=delta.shape))
        outs.append(forward(model, ids, mask, jnp.asarray(delta, jnp.float32)))
        assert all(np.all(np.isfinite(o)) for o in outs[-1])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    assert not np.allclose(outs[0][0], outs[0][2], atol=1e-4)  # the perturbation at real positions does count


def test_han_skips_empty_sentences_and_reads_single_sentences():
    model = shaken(build("han"))
    rng = np.random.default_rng(3)
    ids, mask = layout([[[3, 4, 5], [], [6, 7]], [[3, 4, 5], [6, 7], []], [[6, 7], [3, 4, 5], []]], SHORT["han"],
                       "han", rng)
    f = forward(model, ids, mask)[1]
    np.testing.assert_allclose(f[0], f[1], atol=1e-5)  # an empty sentence between two is skipped
    assert not np.allclose(f[1], f[2], atol=1e-4)  # while sentence order counts
    # the word level alone, on sentences of any length: (B, 2·units), padding-free
    sentence = nnx.jit(lambda m, ids, mask: m.sentence_vector(ids, mask))
    short = sentence(model, *layout([[3, 4, 5], [6, 7]], 4, "cnn", rng))
    longer = sentence(model, *layout([[3, 4, 5], [6, 7]], 9, "cnn", rng))
    assert short.shape == (B, 2 * SMALL["han"]["units"])
    np.testing.assert_allclose(short, longer, atol=1e-5)
    assert not np.allclose(short[0], short[1], atol=1e-4)
    with pytest.raises(XlgraphError, match="multiple of words_per_sentence=4"):
        model(ids[:, :6], mask[:, :6])


def test_gru_directions_are_flax_gru_cells_on_the_real_tokens_in_order_and_reversed():
    gru = shaken(BiGRU(D, 5, rngs=nnx.Rngs(jax.random.key(0, impl="rbg"))))
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 9, D)), jnp.float32)
    n = 6
    mask = jnp.asarray([[1] * n + [0] * (9 - n), [1] * 9])
    out = np.asarray(nnx.jit(lambda m, x, mask: m(x, mask))(gru, x, mask))

    def run(direction, xs):  # flax's own GRU cell holding this direction's weights: an independent reference
        c = nnx.GRUCell(D, 5, rngs=nnx.Rngs(jax.random.key(0, impl="rbg")))
        c.dense_i.kernel[...] = gru.input_kernel[direction]
        c.dense_i.bias[...] = gru.input_bias[direction]
        c.dense_h.kernel[...] = gru.recurrent_kernel[direction]
        h, states = jnp.zeros((1, 5)), []
        for x_t in xs:
            h = cell_step(c, h, x_t[None])
            states.append(np.asarray(h[0]))
        return np.stack(states)

    np.testing.assert_allclose(out[0, :n, :5], run(0, x[0, :n]), atol=1e-5)
    np.testing.assert_allclose(out[0, :n, 5:], run(1, x[0, :n][::-1])[::-1], atol=1e-5)
    assert np.all(out[0, n:] == 0)
    # the unpadded row's backward direction starts at its own last token
    np.testing.assert_allclose(out[1, :, 5:], run(1, x[1][::-1])[::-1], atol=1e-5)


@nnx.jit
def cell_step(cell, h, x):
    return cell(h, x)[0]


def test_cnn_pools_windows_that_start_at_real_tokens_and_ignores_the_padding_row():
    huge = table()
    huge[0] = 1e6  # a padding row that would win every max if it were read
    rows = [[3, 4, 5, 6, 7, 8], [5, 6], [8]]  # shorter than every filter width too
    ids, mask = layout(rows, SHORT["cnn"], "cnn", np.random.default_rng(0))
    ids = jnp.where(mask == 1, ids, 0)
    model = shaken(build("cnn"))  # non-zero biases: a window of padding alone would not read as 0
    feats = forward(model, ids, mask)[1]
    np.testing.assert_allclose(forward(shaken(build("cnn", embeddings=huge)), ids, mask)[1], feats, atol=1e-5)

    e = np.asarray(model.embedding_table)
    want = []
    for row in rows:
        x = np.concatenate([e[row], np.zeros((5, D), np.float32)])  # zeros after the text
        per_width = []
        for conv in model.convs:
            k = conv.kernel[...]  # (width, D, filters)
            windows = [sum(x[i + j] @ k[j] for j in range(k.shape[0])) + conv.bias[...] for i in range(len(row))]
            per_width.append(np.max(np.maximum(np.stack(windows), 0), axis=0))
        want.append(np.concatenate(per_width))
    np.testing.assert_allclose(feats[:3], np.stack(want), atol=1e-4)
    assert np.all(feats[3:] == 0)  # an empty text pools to zeros, not -inf


def batch_of(ids, mask, labels, real):
    weight = np.zeros(B, np.float32)
    weight[:real] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": jnp.asarray(labels, jnp.int32),
            "weight": jnp.asarray(weight)}


@pytest.mark.parametrize("name", list(TEXT_MODELS))
def test_each_model_fits_a_separable_set_with_one_compilation(name):
    graphdef, params = nnx.split(build(name))
    rng = np.random.default_rng(0)
    # class c's texts draw from tokens 1+8c .. 8+8c; lengths vary; the last row is batch padding (weight 0)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    rows = [list(rng.integers(1 + 8 * c, 9 + 8 * c, rng.integers(2, 10 if name == "han" else 6))) for c in labels]
    if name == "han":
        rows = [[r[:W], r[W:2 * W], r[2 * W:]] for r in rows]
    ids, mask = layout(rows, SHORT[name], name, rng)
    batch = batch_of(ids, mask, labels, 7)
    tx = optim.adamw(1e-2, 40, warmup_ratio=0.0, frozen=frozen_mask)
    step = make_train_step(graphdef, tx)
    state = init_state(params, tx)
    losses = []
    for i in range(30):
        state, metrics = step(state, batch, jax.random.key(i))
        losses.append(float(metrics["loss"]))
    assert step._cache_size() == 1
    assert np.all(np.isfinite(losses)) and np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3]), losses
    logits = outputs(graphdef, state.params, ids, mask, jnp.zeros((*ids.shape, D)))[0]
    assert np.array_equal(np.argmax(logits, -1)[:7], labels[:7])
    assert np.asarray(state.params["embed"]["table"][...]).tobytes() == table().tobytes()  # frozen by default


def test_fgsm_runs_on_the_cnn_with_a_frozen_table():
    graphdef, params = nnx.split(build("cnn", dropout=0.0))
    ids, mask = layout([[3, 4, 5, 6], [7, 8], [9, 10, 11, 12, 13], [3]], SHORT["cnn"], "cnn",
                       np.random.default_rng(0))
    batch = batch_of(ids, mask, [0, 1, 2, 0, 0, 0, 0, 0], 3)
    for norm in ("example", "table"):
        grad_fn = jax.jit(lambda p, b, k, norm=norm: fgsm(epsilon=1.0, norm=norm)(graphdef, p, b, k))
        total, logits, grads = grad_fn(params, batch, jax.random.key(0))
        clean = float(cross_entropy(logits, batch["labels"], batch["weight"]))  # logits of the clean pass
        assert np.isfinite(float(total)) and float(total) - clean > clean  # the adversarial half is the larger
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
        assert not np.any(grads["embed"]["table"][...])  # the perturbation reaches the model, not the table


def _floats(tree) -> int:
    return sum(int(np.size(x)) for x in jax.tree.leaves(tree))


def test_a_frozen_table_gets_no_gradient_no_update_and_no_optimizer_state():
    name = "mlp"  # the lookup is shared by every model; each keeps its table through training in the test above
    ids, att = layout([[3, 4, 5], [6, 7, 8, 9]], SHORT[name], name, np.random.default_rng(0))
    batch = batch_of(ids, att, [0, 1, 0, 0, 0, 0, 0, 0], 2)
    for freeze in (True, False):
        graphdef, params = nnx.split(build(name, freeze=freeze))
        mask = frozen_mask(params)
        assert mask["embed"]["table"] == freeze and not any(jax.tree.leaves(mask["head"]))
        grads = jax.jit(jax.grad(lambda p: classification_loss(nnx.merge(graphdef, p), batch, None)[0]))(params)
        assert bool(np.any(np.asarray(grads["embed"]["table"][...]) != 0)) == (not freeze)  # stop_gradient

        tx = optim.adamw(1e-2, 10, warmup_ratio=0.0, weight_decay=0.1, frozen=frozen_mask)
        state = init_state(params, tx)
        trainable = _floats(params) - (V * D if freeze else 0)
        assert 2 * trainable <= _floats(state.opt_state) <= 2 * trainable + 8  # Adam moments + a few counters
        before = jax.device_get(params)
        step = make_train_step(graphdef, tx)
        for i in range(4):
            state, _ = step(state, batch, jax.random.key(i))
        after = np.asarray(state.params["embed"]["table"][...])
        start = np.asarray(before["embed"]["table"][...])
        if freeze:
            assert after.tobytes() == start.tobytes()  # bit-identical, weight decay included
        else:
            assert not np.array_equal(after[[3, 6]], start[[3, 6]]) and np.all(after[0] == 0)
        assert not np.array_equal(np.asarray(state.params["head"]["kernel"][...]),
                                  np.asarray(before["head"]["kernel"][...]))
        stretched = optim.set_total_steps(state.opt_state, 99)  # the schedule is still found in the masked state
        totals = [n.total for n in jax.tree.leaves(stretched, is_leaf=lambda n: isinstance(n, optim.ScheduleState))
                  if isinstance(n, optim.ScheduleState)]
        assert [int(t) for t in totals] == [99]
    pred, probs = make_predict_step(graphdef)(state.params, batch)  # the existing predict step takes these models
    assert pred.shape == (B,) and np.allclose(np.sum(probs, -1), 1.0, atol=1e-5)


def test_registry_names_what_is_valid():
    with pytest.raises(XlgraphError, match="choose one of: mlp, cnn, gru, han"):
        build_text_model("lstm", table(), C, rngs=nnx.Rngs(0))
    with pytest.raises(XlgraphError, match=r"unknown hyper-parameter\(s\) kernel .*widths=\(3, 4, 5\)"):
        build_text_model("cnn", table(), C, rngs=nnx.Rngs(0), kernel=3)
    assert hyperparameters("mlp") == {"hidden": 512, "dropout": 0.7}
    assert hyperparameters("cnn") == {"widths": (3, 4, 5), "filters": 200, "dropout": 0.3}
    assert hyperparameters("gru") == {"units": 150, "dropout": 0.3}
    assert hyperparameters("han") == {"units": 50, "dropout": 0.5, "words_per_sentence": 30}
    with pytest.raises(XlgraphError, match=r"\(V, D\) table"):
        build_text_model("mlp", np.zeros(5, np.float32), C, rngs=nnx.Rngs(0))
    bad = table()
    bad[3, 2] = np.nan
    with pytest.raises(XlgraphError, match="NaN"):
        build_text_model("mlp", bad, C, rngs=nnx.Rngs(0))
    model = build("mlp")
    assert model.embedding_table.shape == (V, D) and isinstance(model.embed.table, nnx.Param)
