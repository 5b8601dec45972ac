"""NCE and the softmax control (objectives/nce.py): the sampler, the loss, what each trains its scores to be, and
the prediction rules.

The toy problem: 3 contexts, 8 labels; each context draws its gold set from 3 two-label sets with fixed
probabilities, so P(y ∈ T | x) is known exactly and |T| = 2 always. NCE's optimum is exp F(x, y) = P(y ∈ T | x);
softmax's (uniform target over T) is softmax(F) = P(y ∈ T | x) / 2. The two therefore rank labels alike and
agree on the normalised log-probabilities, which is what is tested after training each from scratch.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xlgraph.objectives.nce import nce_loss, noise_log_probs, predict_nce, predict_softmax, softmax_loss

C = 8
SETS = [  # per context: (set, probability)
    [((0, 1), 0.6), ((0, 2), 0.3), ((3, 4), 0.1)],
    [((5, 6), 0.5), ((5, 7), 0.3), ((1, 6), 0.2)],
    [((2, 3), 0.7), ((4, 7), 0.2), ((2, 7), 0.1)],
]


def membership() -> np.ndarray:
    p = np.zeros((len(SETS), C))
    for x, sets in enumerate(SETS):
        for labels, prob in sets:
            p[x, list(labels)] += prob
    return p


def draw(key, batch):
    """(contexts (B,), multi-hot targets (B, C)) from the toy distribution."""
    k_ctx, k_set = jax.random.split(key)
    ctx = jax.random.randint(k_ctx, (batch,), 0, len(SETS))
    table = jnp.array([[jax.nn.one_hot(jnp.array(s), C).sum(0) for s, _ in sets] for sets in SETS])  # (X, 3, C)
    probs = jnp.log(jnp.array([[p for _, p in sets] for sets in SETS]))
    which = jax.random.categorical(k_set, probs[ctx])
    return ctx, table[ctx, which]


def train(loss: str, steps: int = 1500, batch: int = 256, num_sampled: int = 8, seed: int = 0):
    """A score table F (contexts × labels) trained with Adam; returns (F, losses)."""
    log_q = jnp.asarray(noise_log_probs(np.ones(C), "uniform"))
    tx = optax.adam(0.05)

    def step(carry, key):
        f, opt = carry
        k_data, k_noise = jax.random.split(key)
        ctx, targets = draw(k_data, batch)
        weight = jnp.ones(batch)

        def objective(f):
            if loss == "nce":
                return nce_loss(f[ctx], targets, weight, k_noise, log_q=log_q, num_sampled=num_sampled)
            return softmax_loss(f[ctx], targets, weight)

        value, grad = jax.value_and_grad(objective)(f)
        updates, opt = tx.update(grad, opt, f)
        return (optax.apply_updates(f, updates), opt), value

    f0 = jnp.zeros((len(SETS), C))
    (f, _), losses = jax.jit(lambda keys: jax.lax.scan(step, (f0, tx.init(f0)), keys))(
        jax.random.split(jax.random.key(seed), steps))
    return np.asarray(f), np.asarray(losses)


@pytest.fixture(scope="module")
def trained():
    return {"nce": train("nce"), "softmax": train("softmax")}


def test_nce_loss_decreases_and_recovers_membership_probabilities(trained):
    f, losses = trained["nce"]
    assert losses[-100:].mean() < losses[:20].mean() - 1.0  # from 10·log 2 (F = 0) towards NCE's floor, above 0
    # exp F(x, y) estimates P(y ∈ T | x) without any normalisation being computed
    np.testing.assert_allclose(np.exp(f), membership(), atol=0.06)


def test_softmax_control_learns_membership_over_set_size(trained):
    f, losses = trained["softmax"]
    assert losses[-100:].mean() < losses[:20].mean()
    np.testing.assert_allclose(np.asarray(jax.nn.softmax(f, axis=1)), membership() / 2, atol=0.03)


def test_nce_and_softmax_agree_on_ranking_and_normalised_log_probabilities(trained):
    f_nce, f_sm = trained["nce"][0], trained["softmax"][0]
    p = membership()
    for x in range(len(SETS)):
        support = np.flatnonzero(p[x] > 0)
        distinct = [y for y in support if np.sum(np.isclose(p[x, support], p[x, y])) == 1]
        assert list(distinct[i] for i in np.argsort(-f_nce[x, distinct])) == \
               list(distinct[i] for i in np.argsort(-f_sm[x, distinct]))
        # NCE's normalised log-probabilities = softmax's, on the labels that carry the mass
        ln = np.asarray(jax.nn.log_softmax(f_nce[x]))[support]
        ls = np.asarray(jax.nn.log_softmax(f_sm[x]))[support]
        np.testing.assert_allclose(ln, ls, atol=0.25)
        np.testing.assert_allclose(np.exp(ln), np.exp(ls), atol=0.03)


@functools.partial(jax.jit, static_argnums=(3, 5))  # one compilation instead of one per primitive
def _nce_grad(f, targets, log_q, k, key, rows):
    """The Monte-Carlo mean over `rows` independent noise draws of ∇_F of the NCE loss at scores F."""
    scores_of = lambda f: jnp.broadcast_to(f, (rows, f.shape[0]))  # noqa: E731
    return jax.grad(lambda f: nce_loss(scores_of(f), jnp.broadcast_to(targets, (rows, len(targets))),
                                       jnp.ones(rows), key, log_q=log_q, num_sampled=k))(f)


def _expected_nce_grad(f, targets, log_q, k):
    """E over noise of ∇_F: −σ(−Δ_y) on gold labels, k·q(y)·σ(Δ_y) on every label, Δ = F − log k q."""
    delta = f - np.log(k) - log_q
    return -targets * jax.nn.sigmoid(-delta) + k * np.exp(log_q) * jax.nn.sigmoid(delta)


def test_the_loss_gradient_has_the_nce_expectation():
    """The Monte-Carlo mean of the loss's gradient equals its expectation under k i.i.d. draws from q: the sampler
    draws from q (not uniformly, not without replacement) and the correction is log k·q."""
    log_q = jnp.asarray(noise_log_probs(np.array([50, 30, 10, 5, 3, 1, 0, 0]), "frequency"))
    f = jnp.array([1.0, -0.5, 0.3, -2.0, 0.0, 0.5, -1.0, -3.0])
    targets = jnp.array([1, 0, 1, 0, 0, 0, 0, 0], jnp.float32)
    mc = _nce_grad(f, targets, log_q, 5, jax.random.key(2), 20000)
    np.testing.assert_allclose(mc, _expected_nce_grad(f, targets, log_q, 5), atol=0.01)


def test_expected_nce_gradient_direction_approaches_softmax_as_k_grows():
    """Where Σ_y exp F = |T| (NCE's self-normalised optimum scale), the expected NCE gradient tends to |T| times
    the softmax control's gradient as k grows: cosine ↑ 1, relative error ↓ 0."""
    log_q = jnp.asarray(noise_log_probs(np.array([40, 20, 10, 10, 5, 5, 5, 5]), "frequency"))
    targets = jnp.array([0, 1, 0, 0, 1, 0, 1, 0], jnp.float32)
    f = jax.nn.log_softmax(jnp.array([0.2, 1.0, -0.3, 0.1, 0.8, -1.0, 0.5, 0.0])) + jnp.log(3.0)
    sm = 3.0 * jax.grad(lambda f: softmax_loss(f[None], targets[None], jnp.ones(1)))(f)
    cosines, errors = [], []
    for k in (1, 10, 1000):
        g = _nce_grad(f, targets, log_q, k, jax.random.key(k), 100000 // k)  # rows × k noise draws: 100k
        cosines.append(float(g @ sm / (jnp.linalg.norm(g) * jnp.linalg.norm(sm))))
        errors.append(float(jnp.linalg.norm(g - sm) / jnp.linalg.norm(sm)))
    assert cosines == sorted(cosines) and cosines[-1] > 0.999, cosines
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.05, errors
    assert cosines[0] < 0.97  # the check can fail: at k = 1 the directions clearly differ


def test_padding_rows_do_not_count():
    scores = jnp.array([[1.0, -1.0, 0.0], [5.0, 5.0, 5.0]])
    targets = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    log_q = jnp.log(jnp.full(3, 1 / 3))
    key = jax.random.key(0)
    for loss in (lambda s, t, w: nce_loss(s, t, w, key, log_q=log_q, num_sampled=4), softmax_loss):
        both = jax.jit(lambda s, t, w, s1, t1, w1: (loss(s, t, w), loss(s1, t1, w1)))  # one compilation
        padded, alone = both(scores, targets, jnp.array([1.0, 0.0]), scores[:1], targets[:1], jnp.ones(1))
        assert float(padded) == pytest.approx(float(alone), rel=1e-6)


def test_noise_distributions():
    q = np.exp(noise_log_probs([3, 1, 0], "frequency"))
    np.testing.assert_allclose(q, [4 / 7, 2 / 7, 1 / 7], rtol=1e-6)  # add-one: an unseen label keeps q > 0
    np.testing.assert_allclose(np.exp(noise_log_probs([3, 1, 0], "uniform")), [1 / 3] * 3, rtol=1e-6)
    with pytest.raises(ValueError, match="noise must be one of"):
        noise_log_probs([1, 2], "zipf")


def test_nce_rule_thresholds_membership_at_one_half_never_empty():
    scores = jnp.log(jnp.array([[0.9, 0.6, 0.4, 0.1], [0.3, 0.45, 0.2, 0.1]]))
    np.testing.assert_array_equal(predict_nce(scores), [[1, 1, 0, 0], [0, 1, 0, 0]])


def _brute_softmax_rule(p):
    """The non-empty label set whose uniform distribution is nearest (L1) to p, by trying every set."""
    best = min((s for m in range(1, len(p) + 1) for s in itertools.combinations(range(len(p)), m)),
               key=lambda s: np.abs(p - np.isin(np.arange(len(p)), s) / len(s)).sum())
    return np.isin(np.arange(len(p)), best)


def test_softmax_rule_is_the_nearest_uniform_set():
    scores = np.random.default_rng(0).normal(0, 2, (40, 6)).astype(np.float32)
    scores[:5, :2] = 10.0  # two equal dominant labels
    pred = np.asarray(predict_softmax(jnp.asarray(scores)))
    p = np.asarray(jax.nn.softmax(jnp.asarray(scores), axis=1))
    for i in range(len(p)):
        np.testing.assert_array_equal(pred[i], _brute_softmax_rule(p[i]))
    assert pred[:5].sum(1).tolist() == [2] * 5 and pred.sum(1).min() >= 1
