import jax.numpy as jnp
import numpy as np

from xlgraph.train.optim import adamw, decay_mask, warmup_linear_decay


def test_schedule_warms_up_then_decays_to_zero():
    s = warmup_linear_decay(1.0, total_steps=100, warmup_steps=10)
    assert float(s(0)) == 0.0 and abs(float(s(10)) - 1.0) < 1e-6 and abs(float(s(55)) - 0.5) < 1e-6
    assert abs(float(s(100))) < 1e-6


def test_no_decay_on_vectors_and_clipping():
    params = {"w": jnp.ones((3, 3)), "b": jnp.ones(3)}
    assert decay_mask(params) == {"w": True, "b": False}
    tx = adamw(0.1, 10, warmup_ratio=0.0, weight_decay=0.5, clip_norm=1.0)
    state = tx.init(params)
    zero = {"w": jnp.zeros((3, 3)), "b": jnp.zeros(3)}
    updates, _ = tx.update(zero, state, params)
    assert np.allclose(updates["b"], 0) and np.all(np.asarray(updates["w"]) < 0)  # only decay moves w
