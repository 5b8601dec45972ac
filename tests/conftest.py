"""Shared test fixtures: where the real data sets are, scratch folders that work under hypothesis, and the property
every reader must have on generated input (see `check_read`)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# One persistent XLA compilation cache for this test session, its subprocesses included (they inherit the
# environment): many tests compile the same tiny programs, and a compile is most of a tiny run's time. A fresh
# folder per session, so nothing stale is ever read. Set before JAX is imported.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="xlgraph-test-xla-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")

import pytest  # noqa: E402

from xlgraph.data.corpus import Doc  # noqa: E402
from xlgraph.data.readers import ReadContext, read_docs  # noqa: E402
from xlgraph.errors import DataError  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / "../shared/data"  # the real data, next to the repository


@pytest.fixture(scope="session")
def shared_data():
    """`shared_data("mtod")` is that real data folder; the test is skipped when it is not there."""

    def get(name: str) -> Path:
        path = (SHARED / name).resolve()
        if not path.is_dir():
            pytest.skip(f"real data folder {path} is missing (expected ../shared/data/{name} beside the repository)")
        return path

    return get


@pytest.fixture(scope="session")
def experiment_script():
    """`experiment_script("bench/align.py")` imports that script under experiments/ as a module (fresh each call)."""
    import importlib.util

    def load(relpath: str):
        path = Path(__file__).resolve().parents[1] / "experiments" / relpath
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def scratch(tmp_path_factory):
    """A fresh empty folder per call. Session-scoped, so hypothesis tests may use it for every example."""
    return lambda: tmp_path_factory.mktemp("case")


def _check_read(spec: str, *, rows: int, bad: dict[int, str]) -> list[Doc]:
    """The reader property. `rows` is how many rows the input has (blank lines at the end do not count), `bad` maps
    the line of each bad row to the name of the file it is in.

    Strict: raises a DataError for the first bad line, naming its file and line in one `path:line: problem` line,
    or reads every row. With skip_bad_rows: records exactly the bad lines, and skipped + read = rows. A read that
    yields no documents at all (no rows, or only bad ones) ends in a DataError saying so. Nothing but DataError may
    escape. Returns the docs read with skip_bad_rows."""
    good = rows - len(bad)
    if bad:
        with pytest.raises(DataError) as info:
            list(read_docs(spec, ReadContext()))
        err = info.value
        first = min(bad)
        assert (err.line, Path(err.path).name) == (first, bad[first]), str(err)
        assert str(err) == f"{err.path}:{err.line}: {err.problem}"
        assert len(str(err).splitlines()) == 1
    elif not good:
        with pytest.raises(DataError, match="no documents"):
            list(read_docs(spec, ReadContext()))
    else:
        assert len(list(read_docs(spec, ReadContext()))) == rows
    ctx = ReadContext(skip_bad_rows=True)
    docs = []
    if good:
        docs = list(read_docs(spec, ctx))
    else:
        with pytest.raises(DataError, match="no documents") as info:
            docs.extend(read_docs(spec, ctx))
        assert len(str(info.value).splitlines()) == 1
    assert sorted((e.line, Path(e.path).name) for e in ctx.skipped) == sorted(bad.items())
    assert all(len(str(e).splitlines()) == 1 for e in ctx.skipped)
    assert len(docs) + len(ctx.skipped) == rows
    for doc in docs:
        assert isinstance(doc, Doc) and doc.text and doc.text == doc.text.strip()
    return docs


@pytest.fixture(scope="session")
def check_read():
    return _check_read



TINY_BERT = dict(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                 max_position_embeddings=64, type_vocab_size=2, pad_token_id=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A small random BERT with MiniLM's tokenizer, saved like a Hugging Face checkpoint: real loading and
    tokenization, training steps that take milliseconds."""
    from flax import nnx

    from xlgraph.models.encoder import Encoder, EncoderConfig
    from xlgraph.models.hf import save_encoder
    from xlgraph.models.hub import resolve_model_dir

    cfg = EncoderConfig(**TINY_BERT)
    out = tmp_path_factory.mktemp("tiny-bert")
    save_encoder(Encoder(cfg, rngs=nnx.Rngs(0)), cfg, out, tokenizer_dir=resolve_model_dir("all-MiniLM-L6-v2"))
    return out


def count_train_steps(monkeypatch) -> list:
    """A list that grows by one for every train step any fine-tuning run takes from here on."""
    import xlgraph.methods.finetune as finetune

    calls = []
    original = finetune.make_train_step

    def make(*args, **kwargs):
        step = original(*args, **kwargs)
        return lambda *a: calls.append(1) or step(*a)

    monkeypatch.setattr(finetune, "make_train_step", make)
    return calls


def tiny_run_args(model_dir, workdir, *extra):
    """`xlgraph train` arguments for a short run of the tiny model on the embedded sample; `extra` may mix
    key=value overrides and flags. One length bucket: each compile is most of such a run's time."""
    return ["train", f"model.name={model_dir}", "data.max_train=160", "data.max_eval=48", "tokens.max_length=32",
            "tokens.buckets=(32,)", "train.batch_size=16", "train.eval_batch_size=16", "train.epochs=2",
            "train.evals_per_epoch=2", "train.log_every=2", "train.lr=1e-3", "train.checkpoint_every=3",
            *[e for e in extra if "=" in e and not e.startswith("-")], "--workdir", str(workdir),
            *[e for e in extra if "=" not in e or e.startswith("-")]]


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    """model.name=multilingual-e5-small imports into this session's own cache, never the user's."""
    import os

    old = os.environ.get("XLGRAPH_CACHE")
    os.environ["XLGRAPH_CACHE"] = str(tmp_path_factory.mktemp("xlgraph-cache"))
    yield
    if old is None:
        os.environ.pop("XLGRAPH_CACHE", None)
    else:
        os.environ["XLGRAPH_CACHE"] = old


# The longest tests, started first: under `pytest -n 2` (`make test`) a 5-minute test that starts last would leave
# the other worker idle for its whole length. The order within each group is the collection order.
FIRST = ("test_readme_commands.py", "test_parallel.py", "test_e2e.py", "test_distributed.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: the rest keep their order
