"""The `xlgraph` command: demo, train, eval, data inspect, data to-tfds."""

from __future__ import annotations

import argparse
import logging
import sys

from xlgraph.errors import XlgraphError

log = logging.getLogger("xlgraph")


def _train(args) -> None:
    from xlgraph.config import apply_overrides, load_config
    from xlgraph.methods.finetune import results_table, train_and_evaluate

    cfg = load_config(args.config)
    if args.data:
        cfg.data.sources = list(args.data)
    if args.skip_bad_rows:
        cfg.data.skip_bad_rows = True
    if args.allow_pickle:
        cfg.model.allow_pickle = True
    apply_overrides(cfg, args.overrides)
    if cfg.method != "finetune":
        raise XlgraphError(f"method {cfg.method!r} is not available; known: finetune")
    results = train_and_evaluate(cfg, args.workdir or cfg.workdir, resume=args.resume)
    print(results_table(results))
    print(f"\nrun directory: {args.workdir or cfg.workdir}  ({results['wall_time_s']:.0f}s)")


def _demo(args) -> None:
    from xlgraph.config import apply_overrides, demo_config
    from xlgraph.methods.finetune import results_table, train_and_evaluate

    cfg = apply_overrides(demo_config(), args.overrides)
    print("xlgraph demo: fine-tune all-MiniLM-L6-v2 on the embedded English MTOD sample, "
          "evaluate zero-shot on Spanish and Thai.", flush=True)
    results = train_and_evaluate(cfg, args.workdir or cfg.workdir, resume=args.resume)
    print(results_table(results))
    print(f"\nrun directory: {args.workdir or cfg.workdir}  ({results['wall_time_s']:.0f}s)")


def _eval(args) -> None:
    from xlgraph.methods.finetune import evaluate_run, results_table

    results = evaluate_run(args.run_dir, args.data, split=args.split, skip_bad_rows=args.skip_bad_rows,
                           allow_pickle=args.allow_pickle)
    print(results_table(results))


def _inspect(args) -> None:
    from xlgraph.data.readers import load_corpus
    from xlgraph.data.corpus import SPLITS

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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlgraph", description="Cross-lingual text classification in JAX.")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="fine-tune the default encoder on the embedded sample; print the table")
    demo.add_argument("overrides", nargs="*", help="config overrides key=value")
    demo.add_argument("--workdir", help="run directory (default runs/demo)")
    demo.add_argument("--resume", action="store_true", help="continue an interrupted run in the run directory")
    demo.set_defaults(fn=_demo)

    train = sub.add_parser("train", help="train from a config file with key=value overrides")
    train.add_argument("config", nargs="?", help="a Python config file with get_config(), or a run's config.json")
    train.add_argument("overrides", nargs="*", help="config overrides key=value, e.g. train.lr=3e-5")
    train.add_argument("--data", action="append", help="corpus spec (repeatable); replaces data.sources")
    train.add_argument("--workdir", help="run directory (default: the config's workdir)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in the run directory")
    train.add_argument("--skip-bad-rows", action="store_true", help="skip and count malformed rows")
    train.add_argument("--allow-pickle", action="store_true",
                       help="load a pickled pytorch_model.bin (runs code from the file; prefer safetensors)")
    train.set_defaults(fn=_train)

    ev = sub.add_parser("eval", help="evaluate a run's selected checkpoint on other data")
    ev.add_argument("run_dir")
    ev.add_argument("--data", action="append", required=True, help="corpus spec (repeatable)")
    ev.add_argument("--split", help="split to score (default: the run's data.eval_split)")
    ev.add_argument("--skip-bad-rows", action="store_true")
    ev.add_argument("--allow-pickle", action="store_true", help="as for train")
    ev.set_defaults(fn=_eval)

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
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("absl", "orbax", "jax._src.xla_bridge"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if getattr(args, "config", None) and "=" in args.config:  # `xlgraph train key=value` without a config file
        args.overrides.insert(0, args.config)
        args.config = None
    try:
        args.fn(args)
    except XlgraphError as e:
        print(f"xlgraph: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlgraph: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
