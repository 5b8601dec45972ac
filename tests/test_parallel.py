"""Data parallelism: the same code on 1 and 8 (forced CPU) devices gives the same losses, parameters and
corpus features; gradient accumulation and sharded optimizer state change nothing either. The 8-device runs happen in a
subprocess because the device count is fixed when JAX starts."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xlgraph.errors import XlgraphError
from xlgraph.train.parallel import DataParallel, prefetch

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("parallel") / "runs.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, str(HERE / "parallel_worker.py"), str(out), str(tiny_model_dir)], check=True,
                   env=env, timeout=600)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def variant(runs, name):
    return {k.split("/", 1)[1]: v for k, v in runs.items() if k.startswith(name + "/")}


def assert_same(a, b, tol=1e-5):
    assert np.allclose(a["loss"], b["loss"], atol=tol, rtol=0), (a["loss"], b["loss"])
    assert np.allclose(a["grad_norm"], b["grad_norm"], atol=0, rtol=tol), (a["grad_norm"], b["grad_norm"])
    params = sorted(k for k in a if k.startswith("param"))
    assert params and params == sorted(k for k in b if k.startswith("param"))
    worst = max(float(np.abs(a[k] - b[k]).max()) for k in params)
    assert worst <= tol, worst
    assert np.abs(a["probs"] - b["probs"]).max() <= tol


def test_eight_devices_equal_one_device(runs):
    one, all_ = variant(runs, "one"), variant(runs, "all")
    assert int(one["devices"]) == 1 and int(all_["devices"]) == 8
    assert not np.allclose(one["loss"][0], one["loss"][-1])  # it trained
    assert_same(one, all_)


def test_sharded_optimizer_state_changes_nothing(runs):
    zero = variant(runs, "all_zero")
    assert bool(zero["opt_sharded"]) and not bool(variant(runs, "all")["opt_sharded"])
    assert_same(variant(runs, "one"), zero)


def test_gradient_accumulation_equals_the_whole_batch(runs):
    assert_same(variant(runs, "one_nodrop"), variant(runs, "all_accum2_nodrop"))


def test_corpus_encoding_on_eight_devices_equals_one(runs):
    one, all_ = runs["encode_one/features"], runs["encode_all/features"]
    assert one.shape == (80, 32) and np.abs(one).max() > 0.1
    np.testing.assert_allclose(all_, one, atol=1e-5)


def test_batch_must_split_over_devices():
    import jax

    dp = DataParallel.create(jax.devices()[:1])
    assert dp.local_rows(16) == slice(0, 16)
    with pytest.raises(XlgraphError, match="multiple of"):
        DataParallel.create(jax.devices()[:1] * 3).check_batch_size(16)


def test_prefetch_keeps_order_and_raises_producer_errors():
    assert list(prefetch(iter(range(10)), lambda x: x * 2, size=3)) == [2 * i for i in range(10)]

    def broken():
        yield 1
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        list(prefetch(broken(), lambda x: x, size=2))
    stream = prefetch(iter(range(100)), lambda x: x, size=2)
    assert next(stream) == 0
    stream.close()  # a consumer that stops early leaves no thread behind
