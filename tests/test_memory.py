"""Memory estimates before any work: the demo's sizes pass, impossible ones are one clear error at once."""

import jax
import pytest
from conftest import tiny_run_args

from xlgraph.cli import main
from xlgraph.config import default_config
from xlgraph.errors import XlgraphError
from xlgraph.train import memory

GiB = 2**30
E5_SMALL = {"hidden": 384, "layers": 12, "params": 117_510_540}  # multilingual-e5-small: 250k × 384 word embeddings


def test_the_demo_sizes_fit_a_small_machine():
    for trainable in (True, False):  # the demo freezes the embeddings; a full fine-tune keeps AdamW state of all
        need = memory.encoder_training_bytes(batch=32, length=64, trainable=trainable, **E5_SMALL)
        memory.check("the training step", need, "", (4 * GiB, "host"))
    memory.check("the GCN", memory.gcn_bytes(nodes=20_000, feature_dim=384, hidden=512, relations=12), "",
                 (4 * GiB, "host"))
    memory.check("the kNN", memory.knn_graph_bytes(docs=20_000, k=3, feature_dim=384), "", (4 * GiB, "host"))


def test_impossible_sizes_are_refused_naming_the_setting():
    big = (1024 * GiB, "host")
    need = memory.encoder_training_bytes(batch=10_000_000, length=64, **E5_SMALL)
    with pytest.raises(XlgraphError, match=r"^the step needs about .* TiB but only 1\.0 TiB of host memory is "
                                           r"available; lower train.batch_size"):
        memory.check("the step", need, "lower train.batch_size", big)
    with pytest.raises(XlgraphError, match="GCN needs about"):
        memory.check("the GCN", memory.gcn_bytes(nodes=1000, feature_dim=384, hidden=100_000_000), "", big)
    with pytest.raises(XlgraphError, match="kNN needs about"):
        memory.check("the kNN", memory.knn_graph_bytes(docs=10_000_000, k=10_000, feature_dim=384), "", big)


def test_knn_counts_at_most_documents_minus_one_neighbours():
    assert memory.knn_graph_bytes(docs=100, k=10**9, feature_dim=8) == memory.knn_graph_bytes(docs=100, k=99,
                                                                                              feature_dim=8)
    memory.check("the kNN", memory.knn_graph_bytes(docs=100, k=10**9, feature_dim=8), "", (GiB, "host"))


def test_check_run_on_a_built_model():
    from flax import nnx
    from test_train import tiny_model

    from xlgraph.data.corpus import Corpus, Doc

    corpus = Corpus.from_docs([Doc(f"doc {i}", "en", "ab"[i % 2], "train") for i in range(100)]
                              + [Doc(f"pool {i}", "de", None, "unlabeled") for i in range(50)])
    cfg, model = default_config(), nnx.eval_shape(tiny_model)  # shapes only: nothing computed
    memory.check_run(cfg, model, corpus, free=(GiB, "host"))
    cfg.train.batch_size = 10_000_000
    with pytest.raises(XlgraphError, match=r"training step \(batch 10000000 × 128 tokens, 1 layers × 16 hidden"):
        memory.check_run(cfg, model, corpus, free=(GiB, "host"))
    cfg.train.batch_size, cfg.method, cfg.clhg.hidden = 32, "clhg", 100_000_000
    with pytest.raises(XlgraphError, match=r"the GCN \(100 document nodes, 16 → clhg.hidden=100000000 → 16, 300 "):
        memory.check_run(cfg, model, corpus, free=(GiB, "host"))
    cfg.clhg.hidden, cfg.clhg.knn = 512, 10**9
    memory.check_run(cfg, model, corpus, free=(GiB, "host"))  # min(k, docs - 1) neighbours: 99 each
    with pytest.raises(XlgraphError, match=r"the similarity graph \(10000000 documents, clhg.knn=1000000000\)"):
        memory.check_clhg(cfg, docs=10_000_000, feature_dim=16, free=(GiB, "host"))
    cfg.clhg.knn = 200_000  # the sample's 6.5k documents, all similar to all: the GCN's messages do not fit
    with pytest.raises(XlgraphError, match=r"the GCN \(6500 document nodes, .*42243500 similarity edges\)"):
        memory.check_clhg(cfg, docs=6500, feature_dim=384, free=(16 * GiB, "host"))


def test_an_impossible_batch_is_refused_before_the_run_starts(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_run_args(tiny_model_dir, run, "train.batch_size=10000000")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("xlgraph: error: the training step (batch 10000000 × 32 tokens") and "memory" in err
    assert not (run / "config.json").exists()  # refused before the directory was claimed


def test_available_reads_the_accelerator_limit_else_host_ram():
    class Device:
        platform = "gpu"

        def memory_stats(self):
            return {"bytes_limit": 80 * GiB, "bytes_in_use": 2 * GiB}

    assert memory.available(Device()) == (80 * GiB, "gpu device")
    Device.memory_stats = lambda self: None  # a backend without stats: the host's RAM
    limit, kind = memory.available(Device())
    assert kind == "host" and (limit is None or limit > 0)


def test_deep_cnn_is_checked_before_the_model_is_built(tmp_path, capsys):
    from flax import nnx

    from xlgraph.models.deep_cnn import DeepCNN

    cfg = default_config()
    cfg.train.batch_size, cfg.deep_cnn.max_length = 5, 100  # the paper's sizes: 512-d embeddings, 128 filters
    sizes = dict(vocab_size=10_000, embed_dim=512, num_labels=40)
    memory.check_deep_cnn(cfg, **sizes, free=(GiB, "host"))
    model = DeepCNN(10_000, 40, rngs=nnx.Rngs(0))  # the parameters it counts are the model's
    params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    need = memory.deep_cnn_training_bytes(batch=5, length=100, embed_dim=512, filters=128, convs=5,
                                          trainable_params=params)
    assert need == params * 16 + 5 * 100 * (512 + 5 * 128) * 4  # AdamW's copies; the input and five conv outputs
    cfg.train.batch_size = 10_000_000
    with pytest.raises(XlgraphError, match=rf"^the deep CNN's training step \(batch 10000000 × 100 words, 5 convs × "
                                           rf"deep_cnn.filters=128, {params / 1e6:.1f}M parameters\) needs about "
                                           r".* lower train.batch_size"):
        memory.check_deep_cnn(cfg, **sizes, free=(GiB, "host"))
    cfg.train.batch_size, cfg.deep_cnn.filters = 5, 100_000  # the model itself would not fit (282G parameters)
    with pytest.raises(XlgraphError, match=r"deep_cnn.filters=100000, 2816\d\d\.\dM parameters\) needs about"):
        memory.check_deep_cnn(cfg, **sizes, free=(GiB, "host"))
    run = tmp_path / "run"  # through the CLI: one line, exit 2, no run directory, nothing built
    assert main(["train", "method=deep_cnn", "data.sources=['sample:mtod?targets=domain+slots']",
                 "select.metric=jaccard", "deep_cnn.filters=100000", "deep_cnn.train=['en/dev']",
                 "deep_cnn.select=['en/dev']", "--workdir", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("xlgraph: error: the deep CNN's training step (batch 32 × 32 words") and "memory" in err
    assert not (run / "config.json").exists()
