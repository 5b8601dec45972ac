"""A model's tokenizer (HF `tokenizers`), from a local model directory or the HF cache, offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tokenizers

from xlgraph.errors import ModelLoadError
from xlgraph.models.hub import resolve_model_dir

# a vocabulary transformers can build a tokenizer from (without one it builds a 5-token [UNK]-only vocabulary)
VOCAB_FILES = ("vocab.txt", "sentencepiece.bpe.model", "spiece.model", "sentencepiece.model", "tokenizer.model",
               "vocab.json")


def load_tokenizer(name_or_path: str | os.PathLike, prefix: str = "") -> tokenizers.Tokenizer:
    """The model's tokenizer, offline; `prefix` is prepended to every text (as its normaliser's first step, so
    offsets and truncation treat it as part of the text), e.g. e5's "query: "."""
    model_dir = resolve_model_dir(name_or_path)
    path = Path(model_dir) / "tokenizer.json"
    if path.exists():
        tok = tokenizers.Tokenizer.from_file(str(path))
    else:  # sentencepiece-only checkpoints: let transformers convert, still offline
        if not any((Path(model_dir) / f).is_file() for f in VOCAB_FILES):
            raise ModelLoadError(f"{model_dir}: no tokenizer (looked for tokenizer.json, {', '.join(VOCAB_FILES)}); "
                                 "copy the tokenizer files of the model it was trained from into the directory")
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
