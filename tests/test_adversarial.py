"""FGSM on input embeddings: the perturbation is the normalised gradient (checked against finite differences),
both norms, the random control, and the wrapped step's gradient equals the two-loss gradient computed by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xlgraph.models.classifier import Classifier
from xlgraph.models.encoder import Encoder, EncoderConfig
from xlgraph.objectives.adversarial import fgsm, perturbation
from xlgraph.train import optim
from xlgraph.objectives.classification import classification_loss
from xlgraph.train.steps import init_state, make_train_step

V, H = 40, 16


def setup(dropout=0.0):
    cfg = EncoderConfig(vocab_size=V, hidden_size=H, num_layers=2, num_heads=2, intermediate_size=32,
                        max_position_embeddings=16, hidden_dropout=dropout, attention_dropout=dropout)
    model = Classifier(Encoder(cfg, rngs=nnx.Rngs(0)), 3, dropout=dropout, rngs=nnx.Rngs(1))
    rng = np.random.default_rng(0)
    lengths = np.array([8, 5, 3, 8])
    ids = rng.integers(1, V, (4, 8)) * (np.arange(8)[None] < lengths[:, None])
    ids[0, 1] = ids[0, 4] = 7  # a repeated token, for the table variant
    batch = {"input_ids": jnp.asarray(ids, jnp.int32),
             "attention_mask": jnp.asarray(np.arange(8)[None] < lengths[:, None], jnp.int32),
             "labels": jnp.asarray([0, 1, 2, 1], jnp.int32), "weight": jnp.asarray([1, 1, 1, 0], jnp.float32)}
    return nnx.split(model), batch


def loss_at(graphdef, params, batch, delta):
    return classification_loss(nnx.merge(graphdef, params), batch, None, embed_delta=delta)[0]


def test_perturbation_is_the_normalised_gradient_by_finite_differences():
    (graphdef, params), batch = setup()
    zeros = jnp.zeros((4, 8, H))
    g = jax.grad(lambda d: loss_at(graphdef, params, batch, d))(zeros)
    r = perturbation(g, batch["input_ids"], 1.0, "example", V)
    norms = np.sqrt((np.asarray(r) ** 2).sum((1, 2)))
    np.testing.assert_allclose(norms[:3], 1.0, rtol=1e-5)
    assert norms[3] == 0  # a padding row has no gradient and no perturbation

    def slope(direction, h=1e-2):
        up, down = (loss_at(graphdef, params, batch, s * h * direction) for s in (1, -1))
        return float(up - down) / (2 * h)

    for i in range(3):  # the directional derivative along example i's r is ‖g_i‖, as first order predicts
        only = jnp.zeros_like(r).at[i].set(r[i])
        assert slope(only) == pytest.approx(float(jnp.sqrt(jnp.sum(g[i] ** 2))), rel=2e-2)
    noise = jax.random.normal(jax.random.key(0), r.shape)
    noise = noise / jnp.sqrt(jnp.sum(noise**2)) * jnp.sqrt(jnp.sum(r**2))
    assert slope(r) > 3 * abs(slope(noise))  # steepest ascent beats a random direction of the same norm


def test_table_variant_scatters_rows_and_normalises_the_table():
    (graphdef, params), batch = setup()
    g = jax.grad(lambda d: loss_at(graphdef, params, batch, d))(jnp.zeros((4, 8, H)))
    r = perturbation(g, batch["input_ids"], 2.0, "table", V)
    np.testing.assert_allclose(r[0, 1], r[0, 4])  # same token, same row
    ids = np.asarray(batch["input_ids"])
    rows = {int(t): np.asarray(r[b, p]) for b, p in zip(*np.nonzero(np.ones_like(ids)))
            for t in [ids[b, p]]}
    assert np.sqrt(sum((v**2).sum() for v in rows.values())) == pytest.approx(2.0, rel=1e-5)
    table = np.zeros((V, H))
    np.add.at(table, ids, np.asarray(g))
    np.testing.assert_allclose(r[0, 1], 2.0 * table[7] / np.linalg.norm(table), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("norm", ["example", "table"])
def test_fgsm_gradient_equals_clean_plus_adversarial_by_hand(norm):
    (graphdef, params), batch = setup()
    loss, logits, grads = fgsm(epsilon=0.5, norm=norm)(graphdef, params, batch, jax.random.key(0))
    zeros = jnp.zeros((4, 8, H))
    g = jax.grad(lambda d: loss_at(graphdef, params, batch, d))(zeros)
    r = perturbation(g, batch["input_ids"], 0.5, norm, V)
    want_loss, want = jax.value_and_grad(
        lambda p: loss_at(graphdef, p, batch, zeros) + loss_at(graphdef, p, batch, r))(params)
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-5)
    assert float(loss) > 2 * float(loss_at(graphdef, params, batch, zeros))  # the adversarial half is larger
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), grads, want))
    assert max(diffs) < 1e-5


def test_random_control_moves_the_loss_less_than_the_adversary():
    (graphdef, params), batch = setup()
    loss, _, _ = fgsm(epsilon=1.0, control=True)(graphdef, params, batch, jax.random.key(0))
    clean = float(loss_at(graphdef, params, batch, jnp.zeros((4, 8, H))))
    adv, _, _ = fgsm(epsilon=1.0)(graphdef, params, batch, jax.random.key(0))
    noisy, adversarial = float(loss) - clean, float(adv) - clean  # the perturbed halves
    assert noisy != clean and abs(noisy - clean) < 0.5 * (adversarial - clean)


def test_adversarial_train_step_compiles_once_and_trains():
    (graphdef, params), batch = setup(dropout=0.1)
    tx = optim.adamw(1e-2, 20, warmup_ratio=0.0)
    step = make_train_step(graphdef, tx, grad_fn=fgsm(epsilon=1.0))
    state = init_state(params, tx)
    losses = []
    for i in range(8):
        state, metrics = step(state, batch, jax.random.key(i))
        losses.append(float(metrics["loss"]))
    assert step._cache_size() == 1 and losses[-1] < losses[0]
