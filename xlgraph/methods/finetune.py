"""The baseline every method is compared with: fine-tune an encoder on the source language, select on
source dev, evaluate every language. `train_and_evaluate(config, workdir)` is the entry point."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from xlgraph.config import ConfigDict, validate
from xlgraph.data.batching import iterate_batches, num_batches
from xlgraph.data.corpus import Corpus
from xlgraph.data.readers import load_corpus
from xlgraph.data.splits import Splits, selection_label, splits, train_langs
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import XlgraphError
from xlgraph.eval.metrics import classification_metrics, per_language
from xlgraph.eval.report import format_table, side_by_side
from xlgraph.families import family, restore_classifier
from xlgraph.runs import RunDir
from xlgraph.train import memory, optim
from xlgraph.train.checkpoint import Checkpoints
from xlgraph.train.infer import map_rows
from xlgraph.train.loop import LoopConfig, fit_and_select
from xlgraph.train.parallel import DataParallel, is_main_process
from xlgraph.train.steps import init_state, make_predict_step, make_train_step

log = logging.getLogger("xlgraph")


def predict(predict_step, params, tok: Tokenized, cfg: ConfigDict, dp: DataParallel,
            desc: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and probabilities for every row of `tok`, in order, on every process (`desc`: progress)."""
    dp.check_batch_size(cfg.train.eval_batch_size, "train.eval_batch_size")
    pred, probs = map_rows(predict_step, params, tok, buckets=cfg.tokens.buckets,
                           batch_size=cfg.train.eval_batch_size, dp=dp, desc=desc)
    return pred.astype(np.int32), probs


@dataclasses.dataclass
class Setup:
    """Everything a fine-tuning run builds once: data, tokens, the mesh, the compiled steps, pretrained weights.
    Methods that train several times (self-learning rounds) reuse it, so nothing is compiled twice."""

    cfg: ConfigDict
    run: RunDir
    corpus: Corpus
    parts: dict[str, Corpus]
    toks: dict[str, Tokenized]
    tokenizer: object
    dp: DataParallel
    graphdef: object
    pretrained: object  # host copy of the initial params (the steps donate their inputs)
    tx: object
    sharding: object
    train_step: object
    predict_step: object
    started: float
    tokenize: Callable[[Corpus], Tokenized] | None = None  # documents → ids, as the model reads them
    info: dict = dataclasses.field(default_factory=dict)  # extra results.json fields (e.g. vocabulary coverage)
    attach: Callable | None = None  # (batches, epoch, skip, rows) → batches with more fields (sentence alignment)
    family: object = None  # the model family (families.family(cfg)) that built the model, tokenizer and optimizer
    splits: Splits | None = None  # the corpus rows of each part (data.splits)

    @property
    def num_classes(self) -> int:
        return len(self.corpus.labels)

    def fresh_params(self):
        return jax.tree.map(np.copy, self.pretrained)


def setup(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False) -> Setup:
    started = time.perf_counter()
    validate(cfg)  # a config built in Python gets the checks the CLI's gets
    run = RunDir(workdir or cfg.workdir, write=is_main_process())
    corpus, skipped = load_corpus(list(cfg.data.sources), skip_bad_rows=cfg.data.skip_bad_rows)
    if skipped:
        log.warning("skipped %d bad rows (first: %s)", len(skipped), skipped[0])
    fam = family(cfg)
    corpus, vocab, info = fam.prepare(corpus)  # e.g. word models: mono mode reads the source language alone
    rows = splits(corpus, cfg)
    parts = rows.parts(corpus)
    log.info("train %d (%s), selection %d, evaluation %s", len(parts["train"]), "/".join(train_langs(cfg)),
             len(parts["select"]), dict(Counter(parts["eval"].lang.tolist())))
    tokenizer, tokenize_corpus = fam.tokenizer(vocab)
    toks = {name: tokenize_corpus(part) for name, part in parts.items()}
    dp = DataParallel.from_config(cfg)
    size = cfg.train.batch_size
    dp.check_batch_size(size)
    if size % (dp.size * cfg.train.grad_accum):
        raise XlgraphError(f"train.batch_size={size} must split into train.grad_accum={cfg.train.grad_accum} "
                           f"micro-batches over {dp.size} devices")
    log.info("data parallel over %d device(s) (%d process(es)); global batch %d, %d per device%s", dp.size,
             jax.process_count(), size, size // dp.size,
             f", {cfg.train.grad_accum} micro-batches" if cfg.train.grad_accum > 1 else "")
    # from the model's shapes: before it is built (a huge width would fill the memory while building it), before
    # any step, and before the directory is claimed
    memory.check_run(cfg, fam.build(len(corpus.labels), vocab, abstract=True), corpus, devices=dp.size)
    model = fam.build(len(corpus.labels), vocab)
    graphdef, params = nnx.split(model)
    steps = num_batches(toks["train"], buckets=cfg.tokens.buckets, batch_size=size) * cfg.train.epochs
    tx = fam.optimizer(steps)
    sharding = dp.state_sharding(jax.eval_shape(lambda p: init_state(p, tx), params))
    loss_fn = fam.loss(parts["train"].label, len(corpus.labels))
    pairs = fam.paired_batches(vocab)
    if pairs is not None:  # HAN + Sent-Ali: a classification and an alignment update per step
        from xlgraph.train.multitask import make_alternating_step

        if cfg.train.grad_accum > 1:
            raise XlgraphError("embeddings.sentence_alignment does not support train.grad_accum > 1")
        train_step = make_alternating_step(graphdef, tx, loss_fn, dp=dp, state_sharding=sharding,
                                           grad_fn=adversarial_grad_fn(cfg, loss_fn))
    else:
        train_step = make_train_step(graphdef, tx, loss_fn, dp=dp, state_sharding=sharding,
                                     grad_accum=cfg.train.grad_accum, grad_fn=adversarial_grad_fn(cfg, loss_fn))
    # inputs read and the model built: now the directory is this run's (a resume must read the same data)
    run.claim(cfg, resume=resume, data=corpus.fingerprint())
    fam.save_extras(vocab, run.path, run.write)
    return Setup(cfg, run, corpus, parts, toks, tokenizer, dp, graphdef, jax.device_get(params), tx, sharding,
                 train_step, make_predict_step(graphdef, dp), started, tokenize_corpus, info,
                 pairs.attach if pairs is not None else None, fam, rows)


def adversarial_grad_fn(cfg: ConfigDict, loss_fn):
    """FGSM around `loss_fn` when adversarial.enabled, else None (the step's plain gradient of its loss)."""
    if not cfg.adversarial.enabled:
        return None
    from xlgraph.objectives.adversarial import fgsm

    return fgsm(loss_fn, epsilon=cfg.adversarial.epsilon, norm=cfg.adversarial.norm, control=cfg.adversarial.control)


def train_round(s: Setup, tok: Tokenized, labels: np.ndarray, ckpt_dir: Path, *, params=None,
                resume: bool = False, fields: dict | None = None):
    """Fine-tunes from `params` (default: the pretrained weights) on (tok, labels) with the run's one compiled
    step; the schedule is stretched to this set's length. Returns (state at the selected checkpoint, its step,
    its selection scores)."""
    cfg, dp, size = s.cfg, s.dp, s.cfg.train.batch_size
    select = s.parts["select"]
    steps_per_epoch = num_batches(tok, buckets=cfg.tokens.buckets, batch_size=size)
    state = init_state(params if params is not None else s.fresh_params(), s.tx)
    state = state._replace(opt_state=optim.set_total_steps(state.opt_state, steps_per_epoch * cfg.train.epochs))
    state = dp.place(state, s.sharding)

    def evaluate(state):
        if len(select) == 0:
            return {}
        pred, _ = predict(s.predict_step, state.params, s.toks["select"], cfg, dp)
        return {k: v for k, v in classification_metrics(select.label, pred, s.num_classes).items() if k != "n"}

    mine = dp.local_rows(size)

    def batches(epoch, skip):
        stream = iterate_batches(tok, labels, buckets=cfg.tokens.buckets, batch_size=size,
                                 shuffle=True, seed=cfg.seed, epoch=epoch, skip=skip, rows=mine)
        return s.attach(stream, epoch, skip, mine) if s.attach else stream

    ckpts = Checkpoints(ckpt_dir, keep_last=cfg.checkpoint.keep_last)
    loop_cfg = LoopConfig(epochs=cfg.train.epochs, steps_per_epoch=steps_per_epoch, log_every=cfg.train.log_every,
                          evals_per_epoch=cfg.train.evals_per_epoch, select_metric=cfg.select.metric,
                          checkpoint_every=cfg.train.checkpoint_every, prefetch=cfg.train.prefetch,
                          profile_dir=cfg.profile.dir or None, profile_steps=tuple(cfg.profile.steps))
    return fit_and_select(state, train_step=s.train_step, batches=batches, key=jax.random.key(cfg.seed),
                          evaluate=evaluate, cfg=loop_cfg, run=s.run, ckpts=ckpts,
                          meta={"labels": list(s.corpus.labels)}, resume=resume,
                          put=lambda batch: dp.put_host_batch(batch, size), fields=fields)


def report(s: Setup, params, *, method: str, checkpoint_step: int, train_examples: int, **extra) -> dict:
    """Evaluates `params` on every language and writes results.json / results.png."""
    cfg, select, evaluation = s.cfg, s.parts["select"], s.parts["eval"]
    pred, _ = predict(s.predict_step, params, s.toks["eval"], cfg, s.dp, desc="evaluation")
    selection = {}
    if len(select):
        select_pred, _ = predict(s.predict_step, params, s.toks["select"], cfg, s.dp, desc="selection set")
        selection = per_language(select.label, select_pred, select.lang, s.num_classes)
    results = {
        "method": method,
        "encoder": model_name(cfg),
        "source_lang": cfg.data.source_lang,
        **({"train_langs": train_langs(cfg)} if cfg.data.train_langs else {}),
        "zero_shot": cfg.select.on == "source_dev",
        "selection": s.splits.selection,
        "adversarial": dict(cfg.adversarial) if cfg.adversarial.enabled else None,
        "checkpoint_step": checkpoint_step,
        "train_examples": train_examples,
        "eval_split": cfg.data.eval_split,
        "labels": list(s.corpus.labels),
        "per_language": per_language(evaluation.label, pred, evaluation.lang, s.num_classes),
        "selection_per_language": selection,
        **s.info,
        **extra,
        "wall_time_s": round(time.perf_counter() - s.started, 1),
    }
    s.run.save_results(results, title=f"{cfg.name}: {model_name(cfg)}, trained on {'/'.join(train_langs(cfg))}")
    return results


def model_name(cfg: ConfigDict) -> str:
    return family(cfg).describe()


def train_and_evaluate(cfg: ConfigDict, workdir: str | Path | None = None, *, resume: bool = False) -> dict:
    s = setup(cfg, workdir, resume=resume)
    train = s.parts["train"]
    state, chosen, _ = train_round(s, s.toks["train"], train.label, s.run.ckpt_dir, resume=resume)
    method = "finetune" + (" + sentence alignment" if s.attach else "") + (
        " + adversarial" if cfg.adversarial.enabled else "")
    return report(s, state.params, method=method, checkpoint_step=chosen, train_examples=len(train))


def results_table(results: dict) -> str:
    title = (f"{results['method']} · {results['encoder']} · trained on "
             f"{'/'.join(results.get('train_langs') or [results['source_lang']])} · "
             f"{results['eval_split']} · selected on {results['selection']}")
    rows = {f"{lang} (dev)": m for lang, m in results.get("selection_per_language", {}).items()}
    rows.update(results["per_language"])
    if base := results.get("baseline"):  # a method reported beside its fine-tuned encoder, column by column
        base_rows = {f"{lang} (dev)": m for lang, m in base.get("selection_per_language", {}).items()}
        base_rows.update(base["per_language"])
        table = side_by_side({"fine-tune": base_rows, results["method"]: rows}, source_lang=results["source_lang"],
                             title=title)
    else:
        table = format_table(rows, source_lang=results["source_lang"], title=title)
    sl = results.get("self_learning")
    if sl:
        lines = [f"self-learning: best round {sl['best_round']} of {len(sl['rounds']) - 1}; pool {sl['pool']}",
                 "round  score  +pseudo  selected  precision"]
        for r in sl["rounds"]:
            prec = "" if r["precision"] is None else f"{100 * r['precision']:.1f}" + "".join(
                f" {g} {100 * v:.1f}" for g, v in r["precision_per_group"].items())
            lines.append(f"{r['round']:5d} {100 * r['score']:6.2f} {r['train_pseudo']:8d} {r['selected']:9d}  {prec}")
        table += "\n" + "\n".join(lines)
    return table


def evaluate_run(run_dir: str | Path, specs, *, split: str | None = None, skip_bad_rows: bool = False,
                 allow_pickle: bool = False) -> dict:
    """Scores a finished run's selected checkpoint on other data (every language with labelled docs)."""
    corpus, _ = load_corpus(specs, skip_bad_rows=skip_bad_rows, labels=None)
    return evaluate_corpus(run_dir, corpus, split=split, allow_pickle=allow_pickle, source=specs)


def evaluate_corpus(run_dir: str | Path, corpus: Corpus, *, split: str | None = None, allow_pickle: bool = False,
                    source="the data") -> dict:
    """`evaluate_run` on a corpus in memory (e.g. a code-switched test set)."""
    dp = DataParallel.create()
    cfg, model, step, labels = restore_classifier(run_dir, allow_pickle=allow_pickle, dp=dp)
    graphdef, params = nnx.split(model)
    unknown = sorted(set(corpus.labels) - set(labels))
    if unknown:
        raise XlgraphError(f"labels {unknown} of {source} were not among the run's labels {labels}")
    corpus = corpus.with_labels(labels)
    data = corpus.where(split=split or cfg.data.eval_split, labelled=True)
    if len(data) == 0:
        raise XlgraphError(f"no labelled documents in split {split or cfg.data.eval_split!r} of {source}")
    fam = family(cfg)
    tok = fam.tokenizer(fam.load_extras(Path(run_dir)))[1](data)
    pred, _ = predict(make_predict_step(graphdef, dp), params, tok, cfg, dp, desc="evaluation")
    return {"method": "finetune", "encoder": model_name(cfg), "source_lang": cfg.data.source_lang,
            **({"train_langs": train_langs(cfg)} if cfg.data.train_langs else {}),
            "selection": selection_label(cfg, True), "checkpoint_step": step,
            "eval_split": split or cfg.data.eval_split,
            "per_language": per_language(data.label, pred, data.lang, len(labels))}
