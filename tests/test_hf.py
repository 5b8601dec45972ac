import json
import logging
import shutil

import jax
import numpy as np
import pytest

from xlgraph.errors import ModelLoadError
from xlgraph.models.encoder import pool
from xlgraph.models.hf import load_encoder, save_encoder
from xlgraph.models.hub import embedded_model_dir

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
torch.set_num_threads(2)

SENTENCES = ["Hello world", "Set an alarm for seven tomorrow morning, and remind me to call mom before noon",
             "¿Dónde está la biblioteca?"]


def ours(encoder, ids, mask):
    return np.asarray(jax.jit(lambda i, m: encoder(i, m))(ids, mask))


def theirs(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=torch.as_tensor(ids, dtype=torch.long),
                     attention_mask=torch.as_tensor(mask, dtype=torch.long)).last_hidden_state.numpy()


def max_diff(a, b, mask):
    return float(np.abs(a - b)[mask.astype(bool)].max())


@pytest.fixture(scope="module")
def xlmr_dir(tmp_path_factory):
    """A tiny random XLM-R saved by transformers, every tensor perturbed so no LayerNorm is the identity."""
    cfg = transformers.XLMRobertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=128, max_position_embeddings=40, pad_token_id=1,
                                        type_vocab_size=1, layer_norm_eps=1e-5)
    torch.manual_seed(0)
    model = transformers.XLMRobertaModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("xlmr")
    model.save_pretrained(out)
    return out, model


def xlmr_batch(pad=1):
    rng = np.random.default_rng(0)
    lengths = np.array([12, 5, 9])
    mask = (np.arange(12)[None] < lengths[:, None]).astype(np.int32)
    ids = np.where(mask == 1, rng.integers(3, 1000, mask.shape), pad).astype(np.int32)
    ids[:, 0] = 0
    return ids, mask


def test_minilm_parity_with_transformers_bert():
    import tokenizers

    model_dir = embedded_model_dir()
    tok = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc], np.int32)
    mask = np.array([e.attention_mask for e in enc], np.int32)
    assert len(set(mask.sum(1))) == 3 and mask.min() == 0  # three lengths, real padding

    encoder, cfg = load_encoder("all-MiniLM-L6-v2")
    assert (cfg.family, cfg.num_layers, cfg.hidden_size) == ("bert", 6, 384)
    ref = theirs(transformers.BertModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval(), ids, mask)
    got = ours(encoder, ids, mask)
    diff = max_diff(got, ref, mask)
    print(f"MiniLM max |ours - transformers| over real tokens: {diff:.2e}")
    assert diff <= 1e-4
    first = np.abs(np.asarray(pool(got, mask, "first")) - ref[:, 0]).max()
    mean_ref = (ref * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    mean = np.abs(np.asarray(pool(got, mask, "mean")) - mean_ref).max()
    print(f"pooled max diff: first {first:.2e}, mean {mean:.2e}")
    assert first <= 1e-4 and mean <= 1e-4


def test_xlmr_parity_with_transformers(xlmr_dir):
    path, model = xlmr_dir
    encoder, cfg = load_encoder(path)
    assert cfg.family == "roberta" and cfg.position_offset == 2 and cfg.model_type == "xlm-roberta"
    ids, mask = xlmr_batch()
    diff = max_diff(ours(encoder, ids, mask), theirs(model, ids, mask), mask)
    print(f"XLM-R max |ours - transformers| over real tokens: {diff:.2e}")
    assert diff <= 1e-4


def test_save_round_trip_and_transformers_reads_it(xlmr_dir, tmp_path):
    path, model = xlmr_dir
    encoder, cfg = load_encoder(path)
    save_encoder(encoder, cfg, tmp_path / "out")
    again, cfg2 = load_encoder(tmp_path / "out")
    assert cfg2 == cfg
    ids, mask = xlmr_batch()
    np.testing.assert_array_equal(ours(again, ids, mask), ours(encoder, ids, mask))
    reloaded = transformers.AutoModel.from_pretrained(str(tmp_path / "out"), add_pooling_layer=False).eval()
    assert type(reloaded).__name__ == "XLMRobertaModel"
    assert max_diff(theirs(reloaded, ids, mask), theirs(model, ids, mask), mask) <= 1e-6


def test_task_model_prefixes_legacy_names_and_shards(xlmr_dir, tmp_path, caplog):
    from safetensors.numpy import load_file, save_file

    path, model = xlmr_dir
    ids, mask = xlmr_batch()
    want = theirs(model, ids, mask)
    tensors = load_file(path / "model.safetensors")
    # a task checkpoint: "roberta." prefix, TF-era gamma/beta names, a head the encoder does not use
    renamed = {"roberta." + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
               : v for k, v in tensors.items()}
    renamed["classifier.weight"] = np.zeros((3, 64), np.float32)
    (tmp_path / "task").mkdir()
    shutil.copy(path / "config.json", tmp_path / "task")
    save_file(renamed, tmp_path / "task" / "model.safetensors")
    with caplog.at_level(logging.DEBUG, logger="xlgraph"):
        encoder, _ = load_encoder(tmp_path / "task")
    assert "classifier.weight" in caplog.text
    assert max_diff(ours(encoder, ids, mask), want, mask) <= 1e-4

    model.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").exists()
    assert max_diff(ours(load_encoder(tmp_path / "sharded")[0], ids, mask), want, mask) <= 1e-4


def test_pickle_refused_unless_allowed(xlmr_dir, tmp_path, monkeypatch):
    path, model = xlmr_dir
    shutil.copy(path / "config.json", tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="allow-pickle"):
        load_encoder(tmp_path)
    encoder, _ = load_encoder(tmp_path, allow_pickle=True)
    ids, mask = xlmr_batch()
    assert max_diff(ours(encoder, ids, mask), theirs(model, ids, mask), mask) <= 1e-4
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ModelLoadError, match="needs PyTorch"):
        load_encoder(tmp_path, allow_pickle=True)


def test_missing_model_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_encoder(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        load_encoder("someone/not-cached-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_encoder(tmp_path / "empty")
    shutil.copy(embedded_model_dir() / "config.json", tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="no weights"):
        load_encoder(tmp_path / "empty")


def test_shape_mismatch_and_missing_tensor(xlmr_dir, tmp_path):
    from safetensors.numpy import load_file, save_file

    path, _ = xlmr_dir
    shutil.copytree(path, tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "intermediate_size": 100}))
    with pytest.raises(ModelLoadError, match=r"layer\.0\.intermediate\.dense\.bias has shape \(128,\).*needs \(100,\)"):
        load_encoder(tmp_path / "m")
    shutil.copy(path / "config.json", tmp_path / "m")
    tensors = load_file(path / "model.safetensors")
    del tensors["encoder.layer.1.attention.self.value.bias"]
    save_file(tensors, tmp_path / "m" / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"lacks 1 .*layer\.1\.attention\.self\.value\.bias"):
        load_encoder(tmp_path / "m")


def test_abstract_build_reads_no_weights_and_matches_the_real_one(xlmr_dir, monkeypatch):
    """The shapes a run is restored into (and its memory checked from) come from config.json alone, and equal the
    loaded classifier's: same variables (frozen ones included), shapes and dtypes."""
    from flax import nnx

    from xlgraph.config import default_config
    from xlgraph.families.encoder import EncoderFamily
    from xlgraph.models import hf

    cfg = default_config()
    cfg.model.name, cfg.model.freeze_embeddings, cfg.model.train_layers = str(xlmr_dir[0]), True, 1
    real = nnx.state(EncoderFamily(cfg).build(5))

    def refuse(*args, **kwargs):
        raise AssertionError("the abstract build read the weights")

    monkeypatch.setattr(hf, "_read_tensors", refuse)
    abstract = nnx.state(EncoderFamily(cfg).build(5, abstract=True))

    def described(state):
        return {path: (type(v).__name__, v.shape, v.dtype) for path, v in nnx.to_flat_state(state)}

    assert described(abstract) == described(real)
    assert all(isinstance(v.get_value(), jax.ShapeDtypeStruct) for _, v in nnx.to_flat_state(abstract))
    with pytest.raises(AssertionError, match="read the weights"):
        EncoderFamily(cfg).build(5)
