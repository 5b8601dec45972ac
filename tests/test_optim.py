import jax
import jax.numpy as jnp
import numpy as np
import optax

from xlgraph.train.optim import adamw, decay_mask, set_total_steps, warmup_linear_decay


def test_schedule_warms_up_then_decays_to_zero():
    s = warmup_linear_decay(1.0, total_steps=100, warmup_ratio=0.1)
    assert float(s(0)) == 0.0 and abs(float(s(10)) - 1.0) < 1e-6 and abs(float(s(55)) - 0.5) < 1e-6
    assert abs(float(s(100))) < 1e-6 and float(s(150)) == 0.0


def test_schedule_matches_optax_join_of_linear_schedules():
    for total, ratio in [(100, 0.1), (37, 0.0), (5, 0.5), (1, 0.1)]:
        warm = round(ratio * total)
        ref = optax.join_schedules([optax.linear_schedule(0.0, 2.0, max(warm, 1)),
                                    optax.linear_schedule(2.0, 0.0, max(total - warm, 1))], [warm])
        ours = warmup_linear_decay(2.0, total, ratio)
        np.testing.assert_allclose([float(ours(c)) for c in range(total + 3)],
                                   [float(ref(c)) for c in range(total + 3)], atol=1e-6)


def test_matches_optax_adamw():
    params = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
    grads = {"w": jnp.full((2, 3), 0.3), "b": jnp.full(3, -0.2)}
    ours = adamw(0.1, 10, warmup_ratio=0.2, weight_decay=0.01, clip_norm=None)
    ref = optax.adamw(warmup_linear_decay(0.1, 10, 0.2), weight_decay=0.01, mask=decay_mask)
    so, sr = ours.init(params), ref.init(params)
    for _ in range(4):
        uo, so = ours.update(grads, so, params)
        ur, sr = ref.update(grads, sr, params)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8), uo, ur)


def test_total_steps_is_state_so_one_compiled_update_serves_any_length():
    params = {"w": jnp.ones((2, 2))}
    tx = adamw(1.0, 10, warmup_ratio=0.0, weight_decay=0.0, clip_norm=None)
    update = jax.jit(lambda g, s: tx.update(g, s, params))
    g = {"w": jnp.ones((2, 2))}
    short, longer = tx.init(params), set_total_steps(tx.init(params), 1000)
    for _ in range(5):
        u_short, short = update(g, short)
        u_long, longer = update(g, longer)
    assert update._cache_size() == 1
    assert abs(float(u_short["w"][0, 0])) < abs(float(u_long["w"][0, 0]))  # the short run has decayed more


def test_no_decay_on_vectors_and_clipping():
    params = {"w": jnp.ones((3, 3)), "b": jnp.ones(3)}
    assert decay_mask(params) == {"w": True, "b": False}
    tx = adamw(0.1, 10, warmup_ratio=0.0, weight_decay=0.5, clip_norm=1.0)
    state = tx.init(params)
    zero = {"w": jnp.zeros((3, 3)), "b": jnp.zeros(3)}
    updates, _ = tx.update(zero, state, params)
    assert np.allclose(updates["b"], 0) and np.all(np.asarray(updates["w"]) < 0)  # only decay moves w


def test_noam_matches_the_official_lambda_and_drives_adamw():
    from xlgraph.train.optim import noam

    official = lambda step: 1000 * (768 ** -0.5 * min((step + 1) ** -0.5, (step + 1) * 500 ** -1.5))  # noqa: E731
    sched = noam(2e-5, 500, model_size=768)
    for step in (0, 1, 250, 499, 500, 2000):
        np.testing.assert_allclose(float(sched(step)), 2e-5 * official(step), rtol=1e-5)
    assert float(sched(499)) > float(sched(0)) and float(sched(499)) > float(sched(2000))
    # the optimizer steps by exactly that rate: with Adam moments of one repeated gradient, |Δ| ≈ rate
    params = {"w": jnp.ones((2, 2))}
    tx = adamw(123.0, 10, weight_decay=0.0, clip_norm=None, schedule=sched)
    state = tx.init(params)
    for step in range(3):
        updates, state = tx.update({"w": jnp.full((2, 2), 0.5)}, state, params)
        np.testing.assert_allclose(np.asarray(updates["w"]), -float(sched(step)), rtol=1e-4)
