"""Tokenization with HF `tokenizers`, from a local model directory or the HF cache (offline)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import tokenizers

from xlgraph.errors import ModelLoadError
from xlgraph.models.hub import resolve_model_dir


@dataclasses.dataclass(frozen=True)
class Tokenized:
    """Token ids of every document, padded to max_length; `lengths` gives each one's real length."""

    ids: np.ndarray  # (N, max_length) int32
    lengths: np.ndarray  # (N,) int32
    pad_id: int
    closing_token: bool = True  # an encoder's [SEP] / </s>: truncation keeps it; word ids have none
    slot: int = 0  # > 0: rows are slots of this many positions (HAN sentences), padded inside; mask = ids != pad_id


def load_tokenizer(name_or_path: str | os.PathLike, prefix: str = "") -> tokenizers.Tokenizer:
    """The model's tokenizer, offline; `prefix` is prepended to every text (as its normaliser's first step, so
    offsets and truncation treat it as part of the text), e.g. e5's "query: "."""
    model_dir = resolve_model_dir(name_or_path)
    path = Path(model_dir) / "tokenizer.json"
    if path.exists():
        tok = tokenizers.Tokenizer.from_file(str(path))
    else:  # sentencepiece-only checkpoints: let transformers convert, still offline
        try:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).backend_tokenizer
        except Exception as e:
            raise ModelLoadError(f"{model_dir}: no tokenizer.json and no tokenizer transformers can load ({e})") from None
    config = Path(model_dir) / "tokenizer_config.json"
    if config.exists() and json.loads(config.read_text()).get("do_lower_case") and tok.normalizer is None:
        tok.normalizer = tokenizers.normalizers.Lowercase()
    if prefix:
        steps = [tokenizers.normalizers.Prepend(prefix)] + ([tok.normalizer] if tok.normalizer is not None else [])
        tok.normalizer = tokenizers.normalizers.Sequence(steps)
    tok.no_padding()
    tok.no_truncation()
    return tok


def pad_id_of(tok: tokenizers.Tokenizer) -> int:
    for token in ("[PAD]", "<pad>"):
        i = tok.token_to_id(token)
        if i is not None:
            return i
    return 0


def tokenize(tok: tokenizers.Tokenizer, texts, max_length: int, batch: int = 4096) -> Tokenized:
    """Ids with the tokenizer's special tokens; texts longer than max_length keep their first
    max_length - 1 tokens and the closing special token."""
    texts = list(texts)
    pad = pad_id_of(tok)
    ids = np.full((len(texts), max_length), pad, np.int32)
    lengths = np.zeros(len(texts), np.int32)
    for start in range(0, len(texts), batch):
        for i, enc in enumerate(tok.encode_batch(texts[start : start + batch]), start):
            row = enc.ids
            if len(row) > max_length:
                row = row[: max_length - 1] + row[-1:]
            ids[i, : len(row)] = row
            lengths[i] = len(row)
    return Tokenized(ids, lengths, pad)
