"""The one config system: an ml_collections ConfigDict, built in Python, overridden by `key=value`.

The CLI, the files under experiments/ (each exposes `get_config()`) and the Python API all start from
`default_config()`; a run writes its resolved config as JSON and `xlgraph eval` reads it back.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import importlib.util
import json
import logging
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import ml_collections

from xlgraph.errors import ConfigError, XlgraphError

log = logging.getLogger("xlgraph")

ConfigDict = ml_collections.ConfigDict
DEFAULT_MODEL = "multilingual-e5-small"  # the encoder of model.name unless set (models/hub.py finds it)


def default_config() -> ConfigDict:
    c = ConfigDict()
    c.name = "finetune"
    c.method = "finetune"
    c.seed = 0
    c.workdir = "runs/finetune"

    c.data = ConfigDict()
    c.data.sources = ["sample:mtod"]  # corpus specs; train/dev/test/unlabeled come from the docs' splits
    c.data.source_lang = "en"  # the language we train on; every other language is zero-shot
    c.data.eval_split = "test"
    c.data.skip_bad_rows = False
    c.data.max_train = 0  # 0 = all; a cap keeps smoke runs short
    c.data.max_eval = 0  # per language, for the selection and evaluation sets
    c.data.train_langs = []  # languages whose labelled train split is trained on (default: [source_lang])

    c.model = ConfigDict()
    c.model.name = DEFAULT_MODEL  # directory, multilingual-e5-small, all-MiniLM-L6-v2, or a hub id in the HF cache
    c.model.pooling = "first"  # first | mean
    c.model.dropout = 0.1  # classifier-head dropout; encoder dropout comes from the checkpoint's config
    c.model.allow_pickle = False
    c.model.freeze_embeddings = False  # keep the word-embedding table as loaded (no gradient, no optimizer state)
    c.model.train_layers = 0  # N > 0: train only the top N layers (+ head); embeddings and the rest stay as loaded
    c.model.prefix = ""  # prepended to every text before tokenization (e5 models: "query: " or "passage: ")
    c.model.arch = "encoder"  # encoder | mlp | cnn | gru | han: word-embedding models (embeddings.*, families/words.py)

    c.tokens = ConfigDict()
    c.tokens.max_length = 128
    c.tokens.buckets = (32, 64, 128)  # padded lengths; one compiled step per bucket

    c.train = ConfigDict()
    c.train.batch_size = 32
    c.train.eval_batch_size = 128
    c.train.epochs = 3
    c.train.lr = 5e-5
    c.train.warmup_ratio = 0.1
    c.train.weight_decay = 0.01
    c.train.clip_norm = 1.0
    c.train.log_every = 20  # steps between metric fetches (the only host syncs in the loop)
    c.train.evals_per_epoch = 1
    c.train.checkpoint_every = 0  # steps between extra checkpoints for resume (0: only at evaluations)
    c.train.precision = "fp32"  # fp32 | bf16 (bf16 compute; fp32 master weights and optimizer state)
    c.train.grad_accum = 1  # micro-batches per step; train.batch_size is the whole (global) batch
    c.train.prefetch = 2  # batches built and put on the devices ahead of the step

    c.parallel = ConfigDict()
    c.parallel.num_devices = 0  # 0: every device of every process (the data axis of the mesh)
    c.parallel.shard_opt_state = False  # split optimizer state over the data axis (ZeRO-1 style)

    c.profile = ConfigDict()
    c.profile.dir = ""  # non-empty: a jax.profiler trace of profile.steps (TensorBoard / Perfetto)
    c.profile.steps = (10, 15)  # [first, last) global step

    c.select = ConfigDict()
    c.select.metric = "macro_f1"  # accuracy | macro_f1, on the selection split
    c.select.on = "source_dev"  # source_dev (zero-shot) | target_dev (NOT zero-shot; labelled so in outputs)

    c.adversarial = ConfigDict()  # FGSM on the input embeddings (objectives/adversarial.py)
    c.adversarial.enabled = False
    c.adversarial.epsilon = 1.0  # paper: 1.0; 10 for Japanese
    c.adversarial.norm = "example"  # example (per-example ‖g‖) | table (the official whole-table variant)
    c.adversarial.control = False  # a random direction of the same norm instead of the gradient

    c.self_learning = ConfigDict()  # used by method=self_learning (methods/self_learning.py)
    c.self_learning.rounds = 5  # pseudo-labelling rounds after the first fine-tuning
    c.self_learning.per_class = 30  # Kt: pseudo-labels per predicted class and target language per round
    c.self_learning.strategy = "balanced"  # balanced (top-Kt per class) | throttle (global top Kt × classes)
    c.self_learning.patience = 2  # stop when selection has not improved for this many rounds
    c.self_learning.reinit = True  # each round starts from the pretrained encoder (paper); False: continue
    c.self_learning.langs = []  # target languages of the unlabeled pool (default: all but the source)

    c.embeddings = ConfigDict()  # word-embedding models, model.arch != encoder (families/words.py)
    c.embeddings.vectors = []  # "lang=PATH" (word2vec .txt, fastText .vec, .bin, .npy), e.g. runs/vectors/mono/en.vec
    c.embeddings.mode = "multi"  # multi: every language listed (aligned vectors) | mono: data.source_lang alone
    c.embeddings.max_words = 0  # per language, the corpus's most frequent words with a vector (0: all of them)
    c.embeddings.freeze = True  # the table stays as loaded: its alignment is what transfers
    c.embeddings.class_weights = False  # weighted cross-entropy, w_c = log(Σ n / n_c) + 1 (the paper's)
    c.embeddings.sentence_alignment = False  # HAN + Sent-Ali: alternate with the cosine loss on parallel sentences
    c.embeddings.parallel = []  # e.g. multi30k:../shared/data/parallel_multi30k/raw?langs=de,fr (data/parallel.py)
    c.embeddings.max_pairs = 0  # parallel pairs per language (0: all)
    c.embeddings.align_lr = 1e-3  # the alignment task's optimizer (same schedule as the classifier's)
    c.embeddings.mlp = ConfigDict({"hidden": 512, "dropout": 0.7})  # FT-MLP
    c.embeddings.cnn = ConfigDict({"widths": (3, 4, 5), "filters": 200, "dropout": 0.3})  # MF-CNN
    c.embeddings.gru = ConfigDict({"units": 150, "dropout": 0.3})  # bi-GRU-Att
    c.embeddings.han = ConfigDict({"units": 50, "dropout": 0.5, "words_per_sentence": 30})  # buckets: multiples

    c.clhg = ConfigDict()  # used by method=clhg (methods/clhg.py)
    c.clhg.words_per_lang = 10_000
    c.clhg.knn = 3
    c.clhg.knn_method = "exact"  # "ivf": approximate (k-means clusters, `knn_probes` searched) for large corpora
    c.clhg.knn_probes = 8
    c.clhg.pos_types = True  # the ablation switches of the paper's Table 4
    c.clhg.similarity = True
    c.clhg.translation = True
    c.clhg.unlabeled = True
    c.clhg.taggers = []  # "lang=spaCy pipeline name or dir", e.g. "es=runs/pos-es"; untagged languages: one relation
    c.clhg.hidden = 512  # feature dim → hidden → feature dim
    c.clhg.dropout = 0.5
    c.clhg.lr = 1e-3
    c.clhg.schedule = "linear"  # warmup 10% + linear decay | "noam": the official code's (lr ~2e-5..1e-4 there)
    c.clhg.noam_warmup = 500
    c.clhg.weight_decay = 0.01
    c.clhg.epochs = 15
    c.clhg.batch_size = 256  # labelled document nodes per step
    c.clhg.precompute = True  # first-layer ÂX once (fixed features); costs relations × feature memory
    c.clhg.aggregation = "sorted"  # segment_sum | sorted | bcoo (same result; see experiments/bench/hetero_gcn.py)
    c.clhg.adversarial = False  # FGSM on the input rows each GCN batch reads (adversarial.epsilon / norm / control)
    c.clhg.self_learning = False  # pseudo-labelled target documents become labelled nodes (self_learning.*)

    c.deep_cnn = ConfigDict()  # used by method=deep_cnn (methods/deep_cnn.py): multi-label MTOD label sets
    # trained with train.lr (Adam, no schedule, no weight decay), train.batch_size, train.epochs: the paper's
    # 1e-3, 35, 5 are set in experiments/deep_cnn/mtod.py
    c.deep_cnn.train = ["en/test"]  # LANG/SPLIT parts trained on (MTOD's en/train has no slot annotations)
    c.deep_cnn.select = ["en/dev"]  # checkpoint selection (source dev: zero-shot)
    c.deep_cnn.eval = ["es/test", "th/test"]
    c.deep_cnn.min_label_count = 50  # labels in fewer training documents are dropped (and reported)
    c.deep_cnn.max_length = 32  # words; MTOD utterances have at most 23
    c.deep_cnn.buckets = (32,)  # one: shorter inputs are padded to the widest window (32) anyway
    c.deep_cnn.min_word_count = 1  # training words rarer than this map to the unknown word
    # word vectors (optional): embeddings.vectors, "lang=PATH" in one space (e.g. runs/vectors/procrustes/es.vec)
    c.deep_cnn.vectors_limit = 50_000  # words each vector file adds beyond the training text (its most frequent)
    c.deep_cnn.freeze_embeddings = False  # True keeps vector-initialised embeddings aligned
    c.deep_cnn.embed_dim = 512  # the vectors' dimension when vectors are given
    c.deep_cnn.filters = 128
    c.deep_cnn.windows = (32, 16)  # the stacked convs
    c.deep_cnn.parallel = (3, 4, 5)  # the parallel convs on the last stacked one
    c.deep_cnn.dropout = 0.5
    c.deep_cnn.max_norm = 5.0  # 0: off
    c.deep_cnn.loss = "nce"  # nce | softmax (the control)
    c.deep_cnn.num_sampled = 5  # NCE noise labels per example
    c.deep_cnn.noise = "frequency"  # frequency | uniform

    c.checkpoint = ConfigDict()
    c.checkpoint.keep_last = 2
    return c


def load_config(path: str | Path | None) -> ConfigDict:
    """A config from a Python file with `get_config()`, a run's `config.json`, or the default; validated (a
    ConfigError names the file and each `key: problem`)."""
    if path is None:
        return default_config()
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ConfigError("no such config file", where=str(path))
    if path.suffix == ".json":
        cfg = default_config()
        unknown = _merge(cfg, _read_json(path))
        if cfg.model.allow_pickle is True:  # a file handed over must not switch the refusal off; the command line may
            log.warning("%s: model.allow_pickle is ignored in a config file; pass --allow-pickle to load a pickled "
                        "checkpoint", path)
            cfg.model.allow_pickle = False
        return _validate(cfg, str(path), unknown)
    if path.suffix != ".py":
        raise ConfigError("a config file is a Python file with get_config() (.py) or a run's config.json",
                          where=str(path))
    try:
        module = _import_config(path)
        if not hasattr(module, "get_config"):
            raise ConfigError("a config file must define get_config()", where=str(path))
        cfg = module.get_config()
    except ConfigError:
        raise
    except Exception as e:  # a syntax error, or anything raised while importing it or inside get_config()
        raise _failure(e, path) from None
    if not isinstance(cfg, ConfigDict):
        raise ConfigError(f"get_config() returned {type(cfg).__name__}, not a ConfigDict (start from "
                          "xlgraph.config.default_config())", where=str(path))
    return validate(cfg, where=str(path))


def _read_json(path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"not valid JSON: {e.msg} (column {e.colno})", where=f"{path}:{e.lineno}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read ({e})", where=str(path)) from None
    if not isinstance(values, dict):
        raise ConfigError(f"expected a JSON object of config sections, got {_kind(values)}", where=str(path))
    return values


def _failure(e: Exception, path: Path) -> ConfigError:
    """`file:line: Type: message` for an exception raised while loading a config file: the line is the innermost
    one in the config's own files (not in xlgraph or a library it called)."""
    if isinstance(e, SyntaxError) and e.filename:
        return ConfigError(f"{type(e).__name__}: {e.msg}", where=f"{e.filename}:{e.lineno}")
    root, library = path.resolve().parent, Path(__file__).resolve().parent
    while (root / "__init__.py").exists():
        root = root.parent
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if Path(f.filename).is_relative_to(root) and not Path(f.filename).is_relative_to(library)]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(path)
    what = str(e) if isinstance(e, XlgraphError) else f"{type(e).__name__}: {e}"
    return ConfigError(what, where=where)


def _import_config(path: Path):
    """The config file as a module: inside a package (experiments/ is one), imported by its dotted name with the
    package's parent on sys.path, so configs import one another as modules; else loaded from the file alone."""
    path = path.resolve()
    parts, root = [path.stem], path.parent
    while (root / "__init__.py").exists():
        parts.insert(0, root.name)
        root = root.parent
    if len(parts) == 1:
        spec = importlib.util.spec_from_file_location(f"xlgraph_config_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(".".join(parts))


def _merge(cfg: ConfigDict, values: dict, prefix: str = "") -> list[str]:
    """JSON values onto the defaults: the problems of unknown keys (not merged); a value of the wrong type is merged
    for `validate` to name."""
    unknown = []
    for key, value in values.items():
        old = cfg.get(key)
        if key not in cfg:
            unknown.append(_unknown(key, cfg, prefix))
            continue
        if isinstance(value, dict) and isinstance(old, ConfigDict):
            unknown += _merge(old, value, f"{prefix}{key}.")
            continue
        if isinstance(old, tuple) and isinstance(value, list):
            value = tuple(value)
        elif isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        with cfg.ignore_type():
            cfg[key] = value
    return unknown


def parse_value(text: str):
    """Python literals (numbers, booleans, lists, tuples) parse; anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def apply_overrides(cfg: ConfigDict, overrides: Sequence[str]) -> ConfigDict:
    """`train.lr=3e-5 data.sources=[...]`: each key must exist and keep its type (int → float is allowed)."""
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq:
            raise XlgraphError(f"override {item!r}: expected key=value")
        *parents, leaf = key.split(".")
        node = cfg
        for i, part in enumerate(parents):
            if part not in node or not isinstance(node[part], ConfigDict):
                raise XlgraphError(f"override {item!r}: no config section {'.'.join(parents[: i + 1])!r}")
            node = node[part]
        if leaf not in node:
            if key in MOVED:
                raise XlgraphError(f"override {item!r}: {_moved(key)}")
            raise XlgraphError(f"override {item!r}: unknown key; {('.'.join(parents) or 'top level')} has {sorted(node.keys())}")
        old, value = node[leaf], parse_value(raw)
        if isinstance(old, bool) and raw.lower() in _BOOLS:  # true/false as a shell user types them
            value = _BOOLS[raw.lower()]
        elif isinstance(old, str) and not isinstance(value, str):
            value = raw
        elif isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(old, (list, tuple)) and isinstance(value, str):
            value = [value]
        if isinstance(old, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(old, list) and isinstance(value, tuple):
            value = list(value)
        if old is not None and type(old) is not type(value):
            raise XlgraphError(f"override {item!r}: expected {type(old).__name__}, got {type(value).__name__}")
        with node.ignore_type():
            node[leaf] = value
    return cfg


# Validation: the value rules of every key, in one table. Each check takes (value, cfg) and returns a problem or
# None; `validate` runs them after checking that every key is known and keeps its default's type. The allowed
# values of the enum keys are those of the code that reads them (tests/test_config_validation.py holds them equal).
Check = Callable[[object, ConfigDict], "str | None"]
METHOD_NAMES = ("finetune", "self_learning", "clhg", "deep_cnn")  # xlgraph.methods.METHODS
ARCHS = ("encoder", "mlp", "cnn", "gru", "han")  # families/__init__.py, models/text.py TEXT_MODELS
SPLITS = ("train", "dev", "test", "unlabeled")  # data/corpus.py
EVAL_SPLITS = ("train", "dev", "test")  # labelled splits
METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall")  # eval/metrics.py classification_metrics
MULTILABEL_METRICS = ("jaccard", "exact_match", "micro_f1", "micro_precision", "micro_recall", "macro_f1",
                      "macro_precision", "macro_recall")  # eval/metrics.py multilabel_metrics (method=deep_cnn)
MOVED = {  # old name -> where it went
    "deep_cnn.vectors": "embeddings.vectors (the same \"lang=PATH\" items)",
    "deep_cnn.domain": "the reader's targets= (mtod:DIR?targets=domain+slots; targets=slots: no domain label)",
    **{f"deep_cnn.{k}": f"train.{k}" for k in ("lr", "batch_size", "epochs", "eval_batch_size")},
}


def _int(lo: int, hi: int | None = None) -> Check:
    def check(v, cfg):
        if v < lo or (hi is not None and v > hi):
            return f"must be {f'in [{lo}, {hi}]' if hi is not None else f'≥ {lo}'}, got {v}"
    return check


def _float(lo: float = 0.0, hi: float | None = None, *, above: bool = False, below: bool = False) -> Check:
    """A finite number ≥ lo (> lo with `above`) and ≤ hi (< hi with `below`)."""
    def check(v, cfg):
        low_ok = v > lo if above else v >= lo
        high_ok = hi is None or (v < hi if below else v <= hi)
        if not math.isfinite(v) or not (low_ok and high_ok):
            rng = f"{'(' if above else '['}{lo:g}, {hi:g}{')' if below else ']'}" if hi is not None else None
            return f"must be {f'in {rng}' if rng else ('> ' if above else '≥ ') + f'{lo:g}'}, got {v}"
    return check


def _one_of(*allowed: str) -> Check:
    return lambda v, cfg: None if v in allowed else f"must be one of {', '.join(allowed)}, got {v!r}"


def _text(v, cfg):
    return None if v.strip() else "must not be empty"


def _strs(v, cfg):
    bad = [x for x in v if not isinstance(x, str) or not x.strip()]
    return f"items must be non-empty strings, got {bad[0]!r}" if bad else None


def _ints(lo: int = 1, *, size: int | None = None) -> Check:
    def check(v, cfg):
        if not v or (size is not None and len(v) != size):
            return f"must be {size if size else 'one or more'} integer(s), got {list(v)}"
        bad = [x for x in v if isinstance(x, bool) or not isinstance(x, int) or x < lo]
        return f"items must be integers ≥ {lo}, got {bad[0]!r}" if bad else None
    return check


def _all(*checks: Check) -> Check:
    return lambda v, cfg: next((p for p in (c(v, cfg) for c in checks) if p), None)


def _parts(v, cfg):  # deep_cnn.train / select / eval: LANG/SPLIT (data/multilabel.py parse_parts)
    bad = [x for x in v if not isinstance(x, str) or not x.partition("/")[0] or x.partition("/")[2] not in SPLITS]
    return f"{bad[0]!r} is not LANG/SPLIT with SPLIT one of {', '.join(SPLITS)}" if bad else None


def _select_metric(v, cfg):
    allowed = MULTILABEL_METRICS if cfg.method == "deep_cnn" else METRICS
    return None if v in allowed else f"must be one of {', '.join(allowed)} (method={cfg.method}), got {v!r}"


def _divides_batch(v, cfg):
    b = cfg.train.batch_size
    return f"must divide train.batch_size={b}, got {v}" if b % v else None


def _ordered(v, cfg):
    return None if v[0] < v[1] else f"must be (first, last) with first < last, got {tuple(v)}"


def _deep_cnn_buckets(v, cfg):  # the widest window reads deep_cnn.max_length words
    if cfg.method == "deep_cnn" and max(v) != cfg.deep_cnn.max_length:
        return f"must end at deep_cnn.max_length={cfg.deep_cnn.max_length}, got {tuple(v)}"


POSITIVE, COUNT, RATE, DROPOUT = _int(1), _int(0), _float(0.0, above=True), _float(0.0, 1.0, below=True)
RULES: dict[str, Check] = {
    "name": _text, "method": _one_of(*METHOD_NAMES), "seed": COUNT, "workdir": _text,
    "data.sources": _strs, "data.source_lang": _text, "data.eval_split": _one_of(*EVAL_SPLITS),
    "data.max_train": COUNT, "data.max_eval": COUNT, "data.train_langs": _strs,
    "model.name": _text, "model.pooling": _one_of("first", "mean"), "model.dropout": DROPOUT,
    "model.train_layers": COUNT, "model.arch": _one_of(*ARCHS),
    "tokens.max_length": _int(2),  # room for the opening and closing special tokens
    "tokens.buckets": _ints(1),
    "train.batch_size": POSITIVE, "train.eval_batch_size": POSITIVE, "train.epochs": POSITIVE, "train.lr": RATE,
    "train.warmup_ratio": _float(0.0, 1.0), "train.weight_decay": _float(), "train.clip_norm": _float(),  # 0: off
    "train.log_every": POSITIVE, "train.evals_per_epoch": POSITIVE, "train.checkpoint_every": COUNT,
    "train.precision": _one_of("fp32", "bf16"), "train.grad_accum": _all(POSITIVE, _divides_batch),
    "train.prefetch": COUNT,
    "parallel.num_devices": COUNT,
    "profile.steps": _all(_ints(0, size=2), _ordered),
    "select.metric": _select_metric, "select.on": _one_of("source_dev", "target_dev"),
    "adversarial.epsilon": _float(), "adversarial.norm": _one_of("example", "table"),
    "self_learning.rounds": COUNT, "self_learning.per_class": POSITIVE,
    "self_learning.strategy": _one_of("balanced", "throttle"), "self_learning.patience": POSITIVE,
    "self_learning.langs": _strs,
    "embeddings.vectors": _strs, "embeddings.mode": _one_of("multi", "mono"), "embeddings.max_words": COUNT,
    "embeddings.parallel": _strs, "embeddings.max_pairs": COUNT, "embeddings.align_lr": RATE,
    "embeddings.mlp.hidden": POSITIVE, "embeddings.mlp.dropout": DROPOUT,
    "embeddings.cnn.widths": _ints(1), "embeddings.cnn.filters": POSITIVE, "embeddings.cnn.dropout": DROPOUT,
    "embeddings.gru.units": POSITIVE, "embeddings.gru.dropout": DROPOUT,
    "embeddings.han.units": POSITIVE, "embeddings.han.dropout": DROPOUT, "embeddings.han.words_per_sentence": POSITIVE,
    "clhg.words_per_lang": POSITIVE, "clhg.knn": POSITIVE, "clhg.knn_method": _one_of("exact", "ivf"),
    "clhg.knn_probes": POSITIVE, "clhg.taggers": _strs, "clhg.hidden": POSITIVE, "clhg.dropout": DROPOUT,
    "clhg.lr": RATE, "clhg.schedule": _one_of("linear", "noam"), "clhg.noam_warmup": POSITIVE,
    "clhg.weight_decay": _float(), "clhg.epochs": POSITIVE, "clhg.batch_size": POSITIVE,
    "clhg.aggregation": _one_of("segment_sum", "sorted", "bcoo"),
    "deep_cnn.train": _all(_parts, lambda v, cfg: None if v else "must name at least one LANG/SPLIT part"),
    "deep_cnn.select": _parts, "deep_cnn.eval": _parts,
    "deep_cnn.min_label_count": COUNT, "deep_cnn.max_length": POSITIVE,
    "deep_cnn.buckets": _all(_ints(1), _deep_cnn_buckets), "deep_cnn.min_word_count": COUNT,
    "deep_cnn.vectors_limit": COUNT, "deep_cnn.embed_dim": POSITIVE, "deep_cnn.filters": POSITIVE,
    "deep_cnn.windows": _ints(1), "deep_cnn.parallel": _ints(1), "deep_cnn.dropout": DROPOUT,
    "deep_cnn.max_norm": _float(), "deep_cnn.loss": _one_of("nce", "softmax"), "deep_cnn.num_sampled": POSITIVE,
    "deep_cnn.noise": _one_of("frequency", "uniform"),
    "checkpoint.keep_last": POSITIVE,
}


def validate(cfg: ConfigDict, where: str | None = None) -> ConfigDict:
    """`cfg`, or one ConfigError listing every problem as `key: problem` (`where`: the file it came from): first
    unknown keys and values of another type than the default's, then the value rules (RULES)."""
    return _validate(cfg, where, [])


def _validate(cfg: ConfigDict, where: str | None, problems: list[str]) -> ConfigDict:
    problems = problems + _structure(cfg, default_config())
    if not problems:
        for key, check in RULES.items():
            node = cfg
            for part in key.split("."):
                node = node[part]
            if problem := check(node, cfg):
                problems.append(f"{key}: {problem}")
    if problems:
        raise ConfigError(problems, where)
    return cfg


def _kind(v) -> str:
    if isinstance(v, (dict, ConfigDict)):
        return "a section"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "list",
            type(None): "null"}.get(type(v), type(v).__name__)


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return type(value) is type(default)


def _moved(name: str) -> str:
    return f"{name} is now {MOVED[name]}: set that"


def _unknown(key: str, ref: ConfigDict, prefix: str) -> str:
    name = f"{prefix}{key}"
    if name in MOVED:
        return _moved(name)
    near = difflib.get_close_matches(key, list(ref.keys()), n=1)
    return f"{name}: unknown key" + (f" (did you mean {prefix}{near[0]}?)" if near else "")


def _structure(cfg: ConfigDict, ref: ConfigDict, prefix: str = "") -> list[str]:
    out = []
    for key in cfg:
        name, value = f"{prefix}{key}", cfg[key]
        if key not in ref:
            out.append(_unknown(key, ref, prefix))
        elif isinstance(ref[key], ConfigDict):
            out += (_structure(value, ref[key], f"{name}.") if isinstance(value, ConfigDict) else
                    [f"{name}: expected a section, got {_kind(value)} {value!r}"])
        elif not _same_kind(value, ref[key]):
            out.append(f"{name}: expected {_kind(ref[key])}, got {_kind(value)} {value!r}")
    out += [f"{prefix}{key}: missing" for key in ref if key not in cfg]
    return out


def to_json(cfg: ConfigDict) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True, default=list)


def demo_config() -> ConfigDict:
    """`xlgraph demo`: the default encoder on the embedded MTOD sample (en train/dev, es/th test)."""
    c = default_config()
    c.name = "demo"
    c.workdir = "runs/demo"
    c.data.sources = ["sample:mtod"]
    # chosen on English dev macro-F1 (README, "The default encoder"): first-token pooling, e5's "query: " prefix,
    # lr 3e-4 with the top 6 of 12 layers trained
    c.model.pooling = "first"
    c.model.prefix = "query: "
    c.model.freeze_embeddings = True  # 96M of the 118M parameters; unseen languages' rows stay aligned
    c.model.train_layers = 6  # and train the top 6 layers only (of e5's 12): backward through them alone
    c.tokens.max_length = 32  # MTOD utterances: at most 35 tokens with the prefix, 99% within 24
    c.tokens.buckets = (16, 32)
    c.train.epochs = 3
    c.train.lr = 3e-4
    return c


def at_least(lo: int):
    """An argparse type: an integer ≥ `lo` (a bad value is argparse's one-line usage error, never a traceback later)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be ≥ {lo}, got {value}")
        return value

    parse.__name__ = f"integer ≥ {lo}"
    return parse
