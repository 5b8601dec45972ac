"""Fine-tuning throughput, side by side: our jitted train step vs the same MiniLM in transformers + PyTorch.

The real all-MiniLM-L6-v2 weights, batch 32 × 64 tokens, fp32, dropout on, AdamW with clipping, a linear head
on the first token; medians over repeats, JAX compile time apart. A preset of `xlgraph bench encoder`
(xlgraph/bench.py), which takes every option (--model xlmr-base, --precision bf16, --mode forward, ...):

    python experiments/bench/finetune_step.py [--repeats 20 --json out.json]
"""

import sys

from xlgraph.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "encoder", "--model", "minilm", "--batch-size", "32", "--seq-len", "64", "--torch",
                   *sys.argv[1:]]))
