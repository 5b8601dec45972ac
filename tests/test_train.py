"""The training stack on a tiny random encoder: compile counts, checkpoint retention, exact resume."""

import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xlgraph.data.batching import iterate_batches, num_batches
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import ModelLoadError
from xlgraph.models.classifier import Classifier
from xlgraph.models.encoder import Encoder, EncoderConfig
from xlgraph.objectives.classification import classification_loss
from xlgraph.runs import RunDir
from xlgraph.train import optim
from xlgraph.train.checkpoint import Checkpoints
from xlgraph.train.loop import LoopConfig, eval_points, fit
from xlgraph.train.steps import init_state, make_predict_step, make_train_step

BUCKETS = (8, 16)


def tiny_model(num_labels=3, seed=0):
    cfg = EncoderConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                        max_position_embeddings=32, type_vocab_size=2, pad_token_id=0)
    return Classifier(Encoder(cfg, rngs=nnx.Rngs(seed)), num_labels, rngs=nnx.Rngs(seed))


def random_data(n, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 16, n).astype(np.int32)
    ids = rng.integers(1, 50, (n, 16)).astype(np.int32) * (np.arange(16)[None] < lengths[:, None])
    labels = (ids[:, 0] % 3).astype(np.int32)
    return Tokenized(ids, lengths, 0), labels


def test_one_compilation_per_bucket_across_rounds():
    graphdef, params = nnx.split(tiny_model())
    tx = optim.adamw(1e-3, 100)
    traces = []

    def counting_loss(model, batch, rngs):
        traces.append(batch["input_ids"].shape)
        return classification_loss(model, batch, rngs)

    step = make_train_step(graphdef, tx, counting_loss)
    state = init_state(params, tx)
    key = jax.random.key(0)
    for round_, n in enumerate([37, 53, 90]):  # a growing training set, as in self-learning
        tok, labels = random_data(n, seed=round_)
        for batch in iterate_batches(tok, labels, buckets=BUCKETS, batch_size=8, shuffle=True, epoch=round_):
            state, _ = step(state, batch, key)
    assert sorted(traces) == [(8, 8), (8, 16)]  # one trace per bucket, none after round 1


def test_checkpoints_keep_last_n_and_best(tmp_path):
    graphdef, params = nnx.split(tiny_model())
    tx = optim.adamw(1e-3, 10)
    state = init_state(params, tx)
    ckpts = Checkpoints(tmp_path / "ckpt", keep_last=2)
    for step, score in [(1, 0.5), (2, 0.9), (3, 0.6), (4, 0.7), (5, 0.65)]:
        state = state._replace(step=state.step + 1)
        ckpts.save(step, state, {"epoch": step, "position": 0}, metrics={"select": score})
    ckpts.wait()
    assert sorted(ckpts.manager.all_steps()) == [2, 4, 5]
    assert ckpts.best_step() == 2 and ckpts.latest_step() == 5
    restored, meta = ckpts.restore(2, state)
    assert int(restored.step) == 2 and meta["epoch"] == 2
    assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), restored.params, state.params))


class Interrupt(Exception):
    pass


def _run(workdir, tok, labels, *, stop_after=None, resume=False):
    graphdef, params = nnx.split(tiny_model())
    steps_per_epoch = num_batches(tok, buckets=BUCKETS, batch_size=8)
    tx = optim.adamw(1e-2, 3 * steps_per_epoch)
    state = init_state(params, tx)
    predict = make_predict_step(graphdef)
    seen = []

    def batches(epoch, skip):
        for batch in iterate_batches(tok, labels, buckets=BUCKETS, batch_size=8, shuffle=True, epoch=epoch, skip=skip):
            if stop_after is not None and len(seen) == stop_after:
                raise Interrupt
            seen.append(batch)
            yield batch

    def evaluate(state):
        batch = next(iterate_batches(tok, labels, buckets=(16,), batch_size=len(labels), shuffle=False))
        pred, _ = predict(state.params, batch)
        return {"accuracy": float(np.mean(np.asarray(pred) == labels)), "macro_f1": 0.0}

    run = RunDir(workdir)
    cfg = LoopConfig(epochs=3, steps_per_epoch=steps_per_epoch, log_every=2, evals_per_epoch=2)
    ckpts = Checkpoints(run.ckpt_dir, keep_last=2)
    state = fit(state, train_step=make_train_step(graphdef, tx), batches=batches, key=jax.random.key(1),
                evaluate=evaluate, cfg=cfg, run=run, ckpts=ckpts, resume=resume)
    ckpts.close()
    return state, run


def test_interrupted_run_resumes_to_the_same_parameters(tmp_path):
    tok, labels = random_data(45)
    full, run = _run(tmp_path / "full", tok, labels)
    rows = run.read_metrics()
    assert any("train/loss" in r for r in rows) and any("eval/accuracy" in r for r in rows)
    with pytest.raises(Interrupt):
        _run(tmp_path / "cut", tok, labels, stop_after=10)  # mid-epoch 2, after the checkpoint at its middle
    resumed, _ = _run(tmp_path / "cut", tok, labels, resume=True)
    assert int(resumed.step) == int(full.step)
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max()),
                                         resumed.params, full.params))
    assert max(diffs) < 1e-6


def test_eval_points():
    assert eval_points(10, 1) == {10} and eval_points(10, 2) == {5, 10} and eval_points(3, 5) == {1, 2, 3}


def test_profile_writes_a_trace_of_the_chosen_steps(tiny_model_dir, tmp_path):
    from conftest import tiny_run_args

    from xlgraph.cli import main

    trace = tmp_path / "trace"
    assert main(tiny_run_args(tiny_model_dir, tmp_path / "run", "train.epochs=1", "profile.steps=(2,4)",
                              "--profile", str(trace))) == 0
    files = list(trace.rglob("*.xplane.pb"))
    assert len(files) == 1 and files[0].stat().st_size > 10_000


def test_bf16_compute_keeps_fp32_master_weights():
    import jax.numpy as jnp

    tok, labels = random_data(32)
    batch = next(iterate_batches(tok, labels, buckets=(16,), batch_size=16, shuffle=False))
    losses = {}
    for name, dtype in [("fp32", jnp.float32), ("bf16", jnp.bfloat16)]:
        cfg = EncoderConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                            max_position_embeddings=32, dtype=dtype)
        graphdef, params = nnx.split(Classifier(Encoder(cfg, rngs=nnx.Rngs(0)), 3, rngs=nnx.Rngs(0)))
        tx = optim.adamw(1e-2, 10, warmup_ratio=0.0)
        state, step = init_state(params, tx), make_train_step(graphdef, tx)
        seen = []
        for _ in range(3):
            state, metrics = step(state, batch, jax.random.key(0))
            seen.append(float(metrics["loss"]))
        losses[name] = seen
        assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype("float32")}
        assert {x.dtype for x in jax.tree.leaves(state.opt_state) if x.ndim} == {jnp.dtype("float32")}
        probs = make_predict_step(graphdef)(state.params, batch)[1]
        assert probs.dtype == jnp.float32
    assert losses["bf16"] != losses["fp32"]  # it did compute in bf16
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], atol=0.05)


def _truncate_state(step_dir):
    """Cuts the array data files of a checkpoint step in half, as a crash or a full disk would."""
    for path in (step_dir / "state").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            os.truncate(path, path.stat().st_size // 2)


def _toy_fit(workdir, *, stop_after=None, resume=False):
    """`fit` on a toy state (w += the batch's x; no model, no compilation): 2 epochs of 4 batches, evaluated
    and checkpointed every 2 batches. The result is a function of the batches only, so any resume matches."""
    from xlgraph.train.steps import TrainState

    state = TrainState(jnp.zeros((), jnp.int32), {"w": jnp.zeros(3)}, {"m": jnp.zeros(3)})
    done = [0]

    def step(state, batch, key):
        if done[0] == stop_after:
            raise Interrupt
        done[0] += 1
        return state._replace(step=state.step + 1, params={"w": state.params["w"] + batch["x"]}), {"loss": 0.0}

    def batches(epoch, skip):
        for i in range(skip, 4):
            yield {"x": np.full(3, 10.0 * epoch + i, np.float32), "weight": np.ones(2, np.float32)}

    run = RunDir(workdir)
    ckpts = Checkpoints(run.ckpt_dir, keep_last=2)
    cfg = LoopConfig(epochs=2, steps_per_epoch=4, log_every=1, evals_per_epoch=2)
    try:
        state = fit(state, train_step=step, batches=batches, key=jax.random.key(0), cfg=cfg, run=run, ckpts=ckpts,
                    evaluate=lambda s: {"macro_f1": float(s.params["w"][0])}, resume=resume)
    finally:
        ckpts.close()  # (waits for the asynchronous save in flight)
    return state, run


def test_resume_falls_back_past_an_unreadable_checkpoint(tmp_path, caplog):
    full, _ = _toy_fit(tmp_path / "full")
    with pytest.raises(Interrupt):
        _toy_fit(tmp_path / "cut", stop_after=7)  # checkpoints at steps 2, 4, 6 (the last two kept)
    ckpt = tmp_path / "cut" / "ckpt"
    assert sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) == [4, 6]
    _truncate_state(ckpt / "6")
    like = full._replace(step=jnp.zeros((), jnp.int32))
    with pytest.raises(ModelLoadError, match=r"ckpt/6: checkpoint step 6 cannot be read \(.+\); a file in it"):
        Checkpoints(ckpt, read_only=True).restore(6, like)
    with caplog.at_level(logging.WARNING, logger="xlgraph"):
        resumed, run = _toy_fit(tmp_path / "cut", resume=True)
    assert "checkpoint step 6 cannot be read" in caplog.text and "skipped it" in caplog.text
    assert (ckpt / "6.unreadable").is_dir()  # kept for inspection, out of orbax's sight
    assert int(resumed.step) == 8 and np.array_equal(resumed.params["w"], full.params["w"])
    assert [r["step"] for r in run.read_metrics() if "eval/macro_f1" in r] == [2, 4, 6, 8]  # 6 logged once


def test_a_checkpoint_with_corrupt_metrics_is_set_aside_or_refused(tmp_path, caplog):
    from xlgraph.train.steps import TrainState

    state = TrainState(jnp.zeros((), jnp.int32), {"w": jnp.zeros(3)}, {})
    ckpts = Checkpoints(tmp_path / "ckpt", keep_last=3)
    for step in (1, 2, 3):
        ckpts.save(step, state, {"epoch": step, "position": 0}, metrics={"select": step / 10})
    ckpts.close()
    (tmp_path / "ckpt/3/metrics/metrics").write_text('{"sel')
    with pytest.raises(ModelLoadError, match=r"ckpt/3: checkpoint step 3 cannot be read \(metrics/metrics: "):
        Checkpoints(tmp_path / "ckpt", read_only=True)  # eval: one clear error, nothing renamed
    assert (tmp_path / "ckpt/3").is_dir()
    with caplog.at_level(logging.WARNING, logger="xlgraph"):
        again = Checkpoints(tmp_path / "ckpt", keep_last=3)  # a resumed run: step 3 is set aside
    assert again.all_steps() == [1, 2] and again.restore_latest(state)[2] == 2
    assert "checkpoint step 3 cannot be read" in caplog.text


def test_a_checkpoint_cut_off_while_being_written_is_ignored_on_resume(tmp_path):
    full, _ = _toy_fit(tmp_path / "full")
    with pytest.raises(Interrupt):
        _toy_fit(tmp_path / "cut", stop_after=7)
    ckpt = tmp_path / "cut" / "ckpt"
    import shutil

    # killed while step 8 was written: orbax writes into a temporary directory and renames it when complete
    shutil.copytree(ckpt / "6", ckpt / "8.orbax-checkpoint-tmp-1234")
    _truncate_state(ckpt / "8.orbax-checkpoint-tmp-1234")
    resumed, _ = _toy_fit(tmp_path / "cut", resume=True)
    assert int(resumed.step) == 8 and np.array_equal(resumed.params["w"], full.params["w"])
