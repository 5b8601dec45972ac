import shutil

import numpy as np
import pytest

from xlgraph.data.tokenize import pad_id_of, tokenize
from xlgraph.models.tokenizer import load_tokenizer
from xlgraph.errors import ModelLoadError
from xlgraph.models.hub import embedded_model_dir, resolve_model_dir


def test_embedded_default_matches_transformers():
    from transformers import AutoTokenizer

    texts = ["Set an alarm for 7 AM!", "¿Qué tiempo hace mañana?", ""]
    ours = tokenize(load_tokenizer("all-MiniLM-L6-v2"), texts, max_length=32)
    ref = AutoTokenizer.from_pretrained(str(embedded_model_dir()), local_files_only=True)
    for i, t in enumerate(texts):
        expected = ref(t)["input_ids"]
        assert ours.ids[i, : ours.lengths[i]].tolist() == expected
        assert (ours.ids[i, ours.lengths[i]:] == ref.pad_token_id).all()


def test_local_directory_and_hf_cache_offline(tmp_path, monkeypatch):
    local = tmp_path / "copy"
    shutil.copytree(embedded_model_dir(), local, ignore=shutil.ignore_patterns("*.safetensors"))
    assert resolve_model_dir(local) == local and pad_id_of(load_tokenizer(local)) == 0
    # a hub-style cache: models--org--name/snapshots/REV/... with refs/main, looked up offline
    cache = tmp_path / "hub"
    snap = cache / "models--someorg--tiny" / "snapshots" / "0123456789abcdef"
    shutil.copytree(local, snap)
    (cache / "models--someorg--tiny" / "refs").mkdir()
    (cache / "models--someorg--tiny" / "refs" / "main").write_text("0123456789abcdef")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    assert resolve_model_dir("someorg/tiny") == snap
    assert np.array_equal(tokenize(load_tokenizer("someorg/tiny"), ["hi"], 8).ids,
                          tokenize(load_tokenizer(local), ["hi"], 8).ids)
    with pytest.raises(ModelLoadError, match="never downloads"):
        resolve_model_dir("someorg/absent")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model directory"):
        resolve_model_dir(tmp_path / "nothing" / "here")
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_dir(tmp_path)


def test_a_model_directory_without_a_tokenizer_is_refused(tmp_path):
    """Not trained on transformers' 5-token fallback vocabulary (every word [UNK])."""
    (tmp_path / "config.json").write_text('{"model_type": "bert", "vocab_size": 30522}')
    with pytest.raises(ModelLoadError, match=rf"{tmp_path}: no tokenizer \(looked for tokenizer.json, vocab.txt"):
        load_tokenizer(tmp_path)
