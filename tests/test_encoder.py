import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xlgraph.errors import ModelLoadError
from xlgraph.models.encoder import Encoder, EncoderConfig, dropout, pool

TINY = dict(vocab_size=50, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
            max_position_embeddings=24, layer_norm_eps=1e-12)


def tiny(family="bert", **kw):
    pad = 1 if family == "roberta" else 0
    cfg = EncoderConfig(**{**TINY, "family": family, "pad_token_id": pad,
                           "position_offset": pad + 1 if family == "roberta" else 0, **kw})
    return Encoder(cfg, rngs=nnx.Rngs(0))


def batch(pad_id, length=10, lengths=(10, 4, 7), seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, 50, (len(lengths), length)).astype(np.int32)
    mask = (np.arange(length)[None] < np.array(lengths)[:, None]).astype(np.int32)
    return np.where(mask == 1, ids, pad_id), mask


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_padding_does_not_change_real_positions(family):
    enc = tiny(family)
    f = jax.jit(lambda ids, mask: enc(ids, mask))
    pad = enc.cfg.pad_token_id
    ids, mask = batch(pad)
    out = np.asarray(f(ids, mask))
    assert out.shape == (3, 10, 32) and np.isfinite(out).all()
    # five more pad columns, and each row alone without any padding
    wide_ids = np.pad(ids, ((0, 0), (0, 5)), constant_values=pad)
    wide = np.asarray(f(wide_ids, np.pad(mask, ((0, 0), (0, 5)))))
    for i, n in enumerate(mask.sum(1)):
        alone = np.asarray(f(ids[i : i + 1, :n], mask[i : i + 1, :n]))[0]
        np.testing.assert_allclose(out[i, :n], alone, atol=1e-5)
        np.testing.assert_allclose(wide[i, :n], alone, atol=1e-5)


def test_all_padding_row_is_finite_and_differentiable():
    enc = tiny()
    ids, mask = batch(0)
    mask[1] = 0
    graphdef, params = nnx.split(enc)

    def loss(params, key):
        model = nnx.merge(graphdef, params)
        hidden = model(ids, mask, rngs=nnx.Rngs(dropout=key))
        return jnp.sum(pool(hidden, mask, "mean") ** 2) + jnp.sum(pool(hidden, mask, "first") ** 2)

    value, grads = jax.jit(jax.value_and_grad(loss))(params, jax.random.key(0))
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_split_state_holds_only_params():
    enc = tiny()
    _, params, rest = nnx.split(enc, nnx.Param, ...)
    assert not jax.tree.leaves(rest)
    assert params["layers"][0]["qkv"]["kernel"].shape == (32, 96)  # Q, K, V fused


def test_dropout_only_with_rngs_and_reproducible():
    enc = tiny(hidden_dropout=0.2, attention_dropout=0.2)
    ids, mask = batch(0)
    f = jax.jit(lambda ids, mask, key: enc(ids, mask, rngs=nnx.Rngs(dropout=key)))
    plain = np.asarray(enc(ids, mask))
    np.testing.assert_array_equal(plain, np.asarray(enc(ids, mask)))
    a, b, c = (np.asarray(f(ids, mask, jax.random.key(k))) for k in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, plain)


def test_dropout_rate_and_scaling():
    x = jnp.ones((1000, 1000))
    rngs = nnx.Rngs(dropout=0)
    a, b = np.asarray(dropout(x, 0.1, rngs)), np.asarray(dropout(x, 0.1, rngs))  # two draws: two masks
    assert abs((a == 0).mean() - 0.1) < 0.003 and abs(a.mean() - 1.0) < 0.01
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.9)}
    assert abs(np.corrcoef(a.ravel() == 0, b.ravel() == 0)[0, 1]) < 0.01
    assert abs(np.corrcoef(a.ravel()[:-1] == 0, a.ravel()[1:] == 0)[0, 1]) < 0.01
    np.testing.assert_array_equal(dropout(x, 0.1, None), x)


def test_attention_dropout_path_matches_fused_attention():
    # A vanishing rate takes the explicit softmax path yet drops nothing: it must equal the fused path.
    enc = tiny(hidden_dropout=0.0, attention_dropout=1e-12)
    ids, mask = batch(0)
    explicit = enc(ids, mask, rngs=nnx.Rngs(dropout=0))
    np.testing.assert_allclose(np.asarray(explicit), np.asarray(enc(ids, mask)), atol=1e-5)


def test_pooling():
    h = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    m = jnp.array([[1, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(pool(h, m, "first"), [[0, 1], [6, 7]])
    np.testing.assert_allclose(pool(h, m, "mean"), [[1, 2], [0, 0]])
    with pytest.raises(ValueError):
        pool(h, m, "max")


def test_token_types_and_approximate_gelu():
    enc = tiny(hidden_act="gelu_new")
    ids, mask = batch(0)
    zeros = np.zeros_like(ids)
    np.testing.assert_allclose(enc(ids, mask, zeros), enc(ids, mask), atol=1e-6)
    assert not np.allclose(enc(ids, mask, np.ones_like(ids)), enc(ids, mask))


def test_bfloat16_compute():
    enc = tiny(dtype=jnp.bfloat16)
    ids, mask = batch(0)
    out = enc(ids, mask)
    assert out.dtype == jnp.bfloat16 and enc.layers[0].qkv.kernel.get_value().dtype == jnp.float32
    ref = tiny()(ids, mask)
    assert float(jnp.max(jnp.abs(out.astype(jnp.float32) - ref))) < 0.2


def test_config_from_hf():
    bert = EncoderConfig.from_hf({"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 8})
    assert bert.family == "bert" and bert.position_offset == 0 and bert.pad_token_id == 0
    xlmr = EncoderConfig.from_hf({"model_type": "xlm-roberta", "vocab_size": 10, "hidden_size": 8,
                                  "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
                                  "max_position_embeddings": 10, "pad_token_id": 1, "type_vocab_size": 1,
                                  "layer_norm_eps": 1e-5})
    assert xlmr.family == "roberta" and xlmr.position_offset == 2 and xlmr.to_hf()["model_type"] == "xlm-roberta"
    with pytest.raises(ModelLoadError, match="distilbert"):
        EncoderConfig.from_hf({"model_type": "distilbert"})
    with pytest.raises(ModelLoadError, match="relative_key"):
        EncoderConfig.from_hf({"model_type": "bert", "position_embedding_type": "relative_key"})


def test_roberta_positions_skip_padding():
    enc = tiny("roberta")
    ids = np.array([[0, 5, 6, 2, 1, 1], [0, 1, 7, 2, 1, 1]])  # a pad id inside a row is skipped too (as in HF)
    np.testing.assert_array_equal(enc.position_ids(jnp.asarray(ids)), [[2, 3, 4, 5, 1, 1], [2, 1, 3, 4, 1, 1]])
