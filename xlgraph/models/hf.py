"""Hugging Face checkpoints (BERT, RoBERTa, XLM-R) in and out of `Encoder`, by name mapping: no transformers.

Weights come from safetensors (single file or sharded). A pickled `pytorch_model.bin` can run code when
unpickled, so it is refused unless the caller opts in with `allow_pickle=True` (`--allow-pickle`); then
it is read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.errors import ModelLoadError
from xlgraph.models.encoder import Encoder, EncoderConfig
from xlgraph.models.hub import resolve_model_dir

log = logging.getLogger("xlgraph")

_PREFIXES = ("bert.", "roberta.")  # task models (…ForSequenceClassification, …ForMaskedLM) nest the encoder
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                    "sentencepiece.bpe.model", "sentencepiece.model", "spiece.model")


def _hf_names(cfg: EncoderConfig) -> dict[tuple, tuple[str, ...]]:
    """Our parameter path -> the HF tensor(s) it is made of (several: concatenated on the output axis)."""
    names = {
        ("word_embeddings", "embedding"): ("embeddings.word_embeddings.weight",),
        ("position_embeddings", "embedding"): ("embeddings.position_embeddings.weight",),
        ("token_type_embeddings", "embedding"): ("embeddings.token_type_embeddings.weight",),
        ("embeddings_norm", "scale"): ("embeddings.LayerNorm.weight",),
        ("embeddings_norm", "bias"): ("embeddings.LayerNorm.bias",),
    }
    parts = {"qkv": [f"attention.self.{x}" for x in ("query", "key", "value")],
             "attn_out": ["attention.output.dense"], "attn_norm": ["attention.output.LayerNorm"],
             "ffn_in": ["intermediate.dense"], "ffn_out": ["output.dense"], "ffn_norm": ["output.LayerNorm"]}
    for i in range(cfg.num_layers):
        for ours, theirs in parts.items():
            weight = "scale" if ours.endswith("norm") else "kernel"
            for leaf, suffix in ((weight, "weight"), ("bias", "bias")):
                names[("layers", i, ours, leaf)] = tuple(f"encoder.layer.{i}.{t}.{suffix}" for t in theirs)
    return names


def _normalize(name: str) -> str:
    for p in _PREFIXES:
        if name.startswith(p):
            name = name[len(p):]
            break
    if ".LayerNorm." in name:  # TF-era checkpoints call them gamma/beta
        name = name.replace(".LayerNorm.gamma", ".LayerNorm.weight").replace(".LayerNorm.beta", ".LayerNorm.bias")
    return name


def _read_tensors(model_dir: Path, allow_pickle: bool) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    def shards(index: Path) -> list[Path]:
        try:
            return [model_dir / f for f in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
        except (OSError, ValueError, KeyError) as e:
            raise ModelLoadError(f"{index}: not a valid shard index ({e})") from None

    if (model_dir / "model.safetensors").exists():
        files = [model_dir / "model.safetensors"]
    elif (model_dir / "model.safetensors.index.json").exists():
        files = shards(model_dir / "model.safetensors.index.json")
    else:
        files = []
    if files:
        tensors = {}
        for f in files:
            try:
                tensors.update(load_file(f))
            except Exception as e:  # missing shard, truncated file, bad header
                raise ModelLoadError(f"{f}: cannot read safetensors ({type(e).__name__}: {e})") from None
        return tensors

    if (model_dir / "pytorch_model.bin").exists():
        files = [model_dir / "pytorch_model.bin"]
    elif (model_dir / "pytorch_model.bin.index.json").exists():
        files = shards(model_dir / "pytorch_model.bin.index.json")
    else:
        raise ModelLoadError(f"{model_dir}: no weights (model.safetensors or pytorch_model.bin)")
    if not allow_pickle:
        raise ModelLoadError(
            f"{files[0]}: refusing to load a pickled PyTorch checkpoint (unpickling can run code); convert it "
            f"to model.safetensors, or pass --allow-pickle (allow_pickle=True) if you trust its source")
    try:
        import torch
    except ImportError:
        raise ModelLoadError(f"{files[0]}: reading a pickled checkpoint needs PyTorch, which is not installed; "
                             f"convert it to model.safetensors instead") from None
    tensors = {}
    for f in files:
        try:
            state = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelLoadError(f"{f}: cannot load ({type(e).__name__}: {e})") from None
        tensors.update({k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()})
    return tensors


def encoder_config(name_or_path: str | os.PathLike, *, dtype=None) -> EncoderConfig:
    """The encoder's config from its config.json alone (no weights read): `Encoder(encoder_config(...), rngs=...)`
    under `nnx.eval_shape` has the loaded encoder's shapes, e.g. to restore a fine-tuned run into."""
    model_dir = resolve_model_dir(name_or_path)
    try:
        hf_config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{model_dir / 'config.json'}: cannot read ({e})") from None
    return EncoderConfig.from_hf(hf_config, **({"dtype": dtype} if dtype is not None else {}))


def load_encoder(name_or_path: str | os.PathLike, *, allow_pickle: bool = False, dtype=None,
                 rngs: nnx.Rngs | None = None) -> tuple[Encoder, EncoderConfig]:
    """The pretrained encoder and its config. `dtype` sets the compute dtype (params stay float32).
    `rngs` is accepted for symmetry with module constructors; every parameter comes from the checkpoint."""
    del rngs
    model_dir = resolve_model_dir(name_or_path)
    cfg = encoder_config(model_dir, dtype=dtype)
    tensors = {}
    for k, v in _read_tensors(model_dir, allow_pickle).items():
        tensors.setdefault(_normalize(k), v)

    # Shapes only: nothing is initialized just to be overwritten.
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Encoder(cfg, rngs=nnx.Rngs(0))))
    names, used, filled, missing = _hf_names(cfg), set(), [], []
    for path, var in nnx.to_flat_state(abstract):
        theirs = names[path]
        if any(t not in tensors for t in theirs):
            missing += [t for t in theirs if t not in tensors]
            continue
        kernel = path[-1] == "kernel"
        # torch Linear weight is (out, in); a fused kernel is split evenly on its output axis
        want = (var.shape[1] // len(theirs), var.shape[0]) if kernel else (var.shape[0] // len(theirs),) + var.shape[1:]
        for t in theirs:
            if tensors[t].shape != want:
                raise ModelLoadError(f"{model_dir}: tensor {t} has shape {tensors[t].shape}, the config "
                                     f"({'.'.join(map(str, path))}) needs {want}")
        arrays = [tensors[t].T if kernel else tensors[t] for t in theirs]
        value = np.concatenate(arrays, axis=-1) if len(arrays) > 1 else arrays[0]
        filled.append((path, var.replace(jnp.asarray(value, dtype=cfg.param_dtype))))
        used.update(theirs)
    if missing:
        raise ModelLoadError(f"{model_dir}: checkpoint lacks {len(missing)} encoder tensor(s): "
                             f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    ignored = sorted(set(tensors) - used)
    if ignored:  # pooler, task heads, the position_ids buffer
        log.debug("%s: ignoring %d checkpoint tensor(s) the encoder does not use: %s", model_dir, len(ignored),
                  ", ".join(ignored))
    return nnx.merge(graphdef, nnx.from_flat_state(filled)), cfg


def save_encoder(encoder: Encoder, cfg: EncoderConfig, out_dir: str | os.PathLike, *,
                 tokenizer_dir: str | os.PathLike | None = None) -> Path:
    """Writes model.safetensors + config.json with Hugging Face names, so transformers' AutoModel (or
    `load_encoder`) reads it back; copies the tokenizer files from `tokenizer_dir` when given."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = _hf_names(cfg)
    tensors = {}
    for path, var in nnx.to_flat_state(nnx.state(encoder, nnx.Param)):
        value = np.asarray(var.get_value(), dtype=np.float32)
        theirs = names[path]
        for t, part in zip(theirs, np.split(value, len(theirs), axis=-1)):
            tensors[t] = np.ascontiguousarray(part.T if path[-1] == "kernel" else part)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg.to_hf(), indent=2) + "\n")
    if tokenizer_dir is not None:
        for f in _TOKENIZER_FILES:
            if (Path(tokenizer_dir) / f).exists():
                shutil.copy2(Path(tokenizer_dir) / f, out / f)
    return out
