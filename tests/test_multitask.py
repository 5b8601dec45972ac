"""HAN + sentence alignment: the alternating step (a classification update, then an alignment update) lowers both
losses on a toy problem, its classification half is exactly `make_train_step`'s, it compiles once, and the parallel
batches are a pure function of (seed, epoch, position)."""

import jax
import numpy as np
import pytest
from flax import nnx

from xlgraph.data.tokenize import Tokenized
from xlgraph.models.text import build_text_model, frozen_mask
from xlgraph.train import optim
from xlgraph.train.multitask import (Alternating, AlternatingState, ParallelBatches, make_alternating_step,
                                     sentence_alignment_loss)
from xlgraph.train.steps import init_state, make_train_step

W, S, B, N_WORDS = 4, 2, 16, 10
EN, XX = 2, 2 + N_WORDS + 1  # first word row of each language (row 1 and row 12 are the unknown words)


def toy(seed=0):
    """English documents whose class is which half of the vocabulary they use, and xx-en sentence pairs in which
    xx word EN + i translates English word EN + i (different random vectors)."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(XX + N_WORDS, 8)).astype(np.float32)
    table[0] = 0
    labels = rng.integers(0, 2, B)
    words = EN + labels[:, None] * (N_WORDS // 2) + rng.integers(0, N_WORDS // 2, (B, S * W))
    keep = rng.random((B, S * W)) < 0.8
    ids = np.where(keep, words, 0).astype(np.int32)
    batch = {"input_ids": ids, "attention_mask": keep.astype(np.int32), "labels": labels.astype(np.int32),
             "weight": np.ones(B, np.float32)}
    en = EN + rng.integers(0, N_WORDS, (B, W))
    batch.update(pair_ids=(en - EN + XX).astype(np.int32), pair_mask=np.ones((B, W), np.int32),
                 pair_en_ids=en.astype(np.int32), pair_en_mask=np.ones((B, W), np.int32),
                 pair_weight=np.ones(B, np.float32))
    return table, batch


def model(table, dropout=0.0):
    return build_text_model("han", table, 2, freeze=False, rngs=nnx.Rngs(0), units=8, dropout=dropout,
                            words_per_sentence=W)


def adamw(lr):
    return optim.adamw(lr, 100, warmup_ratio=0.0, weight_decay=0.0, frozen=frozen_mask)


@pytest.fixture(scope="module")
def run():
    """30 alternating steps on the toy problem (one compiled step serves every test here)."""
    table, batch = toy()
    graphdef, params = nnx.split(model(table, dropout=0.1))
    initial = jax.tree.map(np.copy, params)  # the step donates its input
    tx = Alternating(adamw(3e-2), adamw(3e-2))
    step = make_alternating_step(graphdef, tx)
    align = jax.jit(lambda p, b: sentence_alignment_loss(nnx.merge(graphdef, p), b))
    _, held_out = toy(seed=1)  # other sentence pairs, same translation rule
    state = init_state(params, tx)
    out = {"held_out_before": float(align(state.params, held_out))}
    history = []
    for i in range(30):
        state, metrics = step(state, batch, jax.random.key(0))
        history.append((float(metrics["loss"]), float(metrics["align_loss"])))
        if i == 0:
            out["first"] = (jax.tree.map(np.copy, state.opt_state.classify), float(metrics["loss"]))
    out.update(held_out_after=float(align(state.params, held_out)), history=history, step=step, state=state,
               graphdef=graphdef, initial=initial, batch=batch)
    return out


def test_both_losses_fall_and_the_step_compiles_once(run):
    history, state = run["history"], run["state"]
    assert run["step"]._cache_size() == 1 and int(state.step) == 30
    assert isinstance(state.opt_state, AlternatingState)
    first, last = np.mean(history[:3], axis=0), np.mean(history[-3:], axis=0)
    assert last[0] < 0.5 * first[0], history  # classification
    assert last[1] < 0.5 * first[1], history  # alignment: 1 - cos of the pairs' sentence vectors
    # pairs never trained on come closer too: the word encoder learnt the translation rule, not the batch
    assert run["held_out_after"] < run["held_out_before"] - 0.2
    counts = [s.count for s in jax.tree.leaves(state.opt_state, is_leaf=lambda n: isinstance(n, optim.ScheduleState))
              if isinstance(s, optim.ScheduleState)]
    assert [int(c) for c in counts] == [30, 30]  # each optimizer made one update per step


def test_classification_half_equals_the_plain_step(run):
    """Same key, same loss, same Adam moments as `make_train_step` from the same parameters: the classification
    update is taken before the alignment one moves anything."""
    plain = make_train_step(run["graphdef"], adamw(3e-2))
    want, metrics = plain(init_state(run["initial"], adamw(3e-2)), run["batch"], jax.random.key(0))
    opt_state, loss = run["first"]
    assert loss == pytest.approx(float(metrics["loss"]), rel=1e-6)
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
                                         opt_state, want.opt_state))
    assert diffs and max(diffs) < 1e-6


def test_parallel_batches_are_deterministic_and_wrap():
    ids = np.arange(1, 11, dtype=np.int32)[:, None] * np.array([[1, 1, 0]], np.int32)  # 10 pairs, 2 words each
    tok = Tokenized(ids, np.full(10, 2, np.int32), 0, closing_token=False)
    pb = ParallelBatches(tok, Tokenized(ids + 100, tok.lengths, 0, closing_token=False), 4, seed=5)
    epoch = [pb.pairs(0, p)["pair_ids"][:, 0] for p in range(3)]
    assert sorted(np.concatenate(epoch[:2]).tolist() + epoch[2][:2].tolist()) == list(range(1, 11))  # a permutation
    fields = pb.pairs(0, 1)
    np.testing.assert_array_equal(fields["pair_en_ids"][:, 0], fields["pair_ids"][:, 0] + 100)  # still pairs
    np.testing.assert_array_equal(fields["pair_mask"], [[1, 1, 0]] * 4)
    assert not np.array_equal(pb.pairs(1, 0)["pair_ids"], pb.pairs(0, 0)["pair_ids"])  # a new order per epoch
    docs = [{"x": np.zeros(4)} for _ in range(3)]
    resumed = list(pb.attach(iter(docs[1:]), 0, skip=1, rows=slice(2, 4)))
    np.testing.assert_array_equal(resumed[0]["pair_ids"], pb.pairs(0, 1)["pair_ids"][2:4])
    np.testing.assert_array_equal(resumed[1]["pair_weight"], [1, 1])
