import numpy as np
from hypothesis import given, settings, strategies as st

from xlgraph.data.batching import bucket_of, iterate_batches, num_batches, plan_batches
from xlgraph.data.tokenize import Tokenized, tokenize
from xlgraph.models.tokenizer import load_tokenizer


def fake_tokens(lengths, max_length=16, pad=0):
    lengths = np.asarray(lengths, np.int32)
    ids = np.where(np.arange(max_length)[None] < lengths[:, None], np.arange(1, max_length + 1)[None] + 100, pad)
    return Tokenized(ids.astype(np.int32), lengths, pad)


def test_bucket_of():
    assert bucket_of(np.array([1, 8, 9, 16, 40]), (8, 16)).tolist() == [0, 0, 1, 1, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 16), min_size=1, max_size=60), st.integers(1, 7), st.integers(0, 3))
def test_every_document_exactly_once_with_fixed_shapes(lengths, batch_size, seed):
    tok = fake_tokens(lengths)
    labels = np.arange(len(lengths))
    seen = []
    batches = list(iterate_batches(tok, labels, buckets=(4, 8, 16), batch_size=batch_size, shuffle=True, seed=seed))
    assert len(batches) == num_batches(tok, buckets=(4, 8, 16), batch_size=batch_size)
    for b in batches:
        length = b["input_ids"].shape[1]
        assert b["input_ids"].shape == (batch_size, length) and length in (4, 8, 16)
        real = b["index"] >= 0
        assert (b["weight"] == real).all()
        assert (b["labels"][real] == b["index"][real]).all()
        assert (b["attention_mask"].sum(1)[real] == np.minimum(tok.lengths[b["index"][real]], length)).all()
        assert (b["attention_mask"][~real] == 0).all()
        seen += b["index"][real].tolist()
    assert sorted(seen) == list(range(len(lengths)))


def test_order_is_a_function_of_seed_and_epoch():
    tok = fake_tokens(np.random.default_rng(0).integers(1, 16, 50))
    plan = lambda s, e: [i.tolist() for _, i in plan_batches(tok.lengths, (8, 16), 4, shuffle=True, seed=s, epoch=e)]  # noqa: E731
    assert plan(0, 0) == plan(0, 0)
    assert plan(0, 0) != plan(0, 1) and plan(0, 0) != plan(1, 0)


def test_skip_resumes_mid_epoch():
    tok = fake_tokens(np.random.default_rng(1).integers(1, 16, 40))
    full = list(iterate_batches(tok, None, buckets=(8, 16), batch_size=4, shuffle=True, seed=3, epoch=2))
    rest = list(iterate_batches(tok, None, buckets=(8, 16), batch_size=4, shuffle=True, seed=3, epoch=2, skip=5))
    assert all((a["input_ids"] == b["input_ids"]).all() for a, b in zip(full[5:], rest)) and len(rest) == len(full) - 5


def test_truncated_rows_keep_their_closing_token():
    tok = load_tokenizer("all-MiniLM-L6-v2")
    t = tokenize(tok, ["one two three four five six seven eight nine ten eleven twelve"], max_length=32)
    batch = next(iterate_batches(t, None, buckets=(8,), batch_size=2, shuffle=False))
    sep = tok.token_to_id("[SEP]")
    assert batch["input_ids"][0, 0] == tok.token_to_id("[CLS]") and batch["input_ids"][0, -1] == sep
    short = tokenize(tok, ["word " * 100], max_length=16)
    assert short.lengths[0] == 16 and short.ids[0, -1] == sep
