"""Token ids of a corpus with an HF `tokenizers` tokenizer (loaded by `models.tokenizer.load_tokenizer`), padded
to a fixed width."""

from __future__ import annotations

import dataclasses

import numpy as np
import tokenizers


@dataclasses.dataclass(frozen=True)
class Tokenized:
    """Token ids of every document, padded to max_length; `lengths` gives each one's real length."""

    ids: np.ndarray  # (N, max_length) int32
    lengths: np.ndarray  # (N,) int32
    pad_id: int
    closing_token: bool = True  # an encoder's [SEP] / </s>: truncation keeps it; word ids have none
    slot: int = 0  # > 0: rows are slots of this many positions (HAN sentences), padded inside; mask = ids != pad_id


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
