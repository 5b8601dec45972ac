"""FT-MLP (Mhamdi et al.) on XLM-T tweet sentiment (en de fr es it pt): the mean of a tweet's aligned word vectors →
Dense 512 → dropout 0.7. Multi mode: trained on all six languages' training tweets, selected on their dev, scored on
each language's test. Vectors from `python experiments/embeddings/vectors.py` (runs/vectors/).

    xlgraph train experiments/embeddings/xlmt_mlp.py
    xlgraph train experiments/embeddings/xlmt_mlp.py 'data.train_langs=["en"]'        # zero-shot from English
    xlgraph train experiments/embeddings/xlmt_mlp.py embeddings.mode=mono data.source_lang=de \\
        'embeddings.vectors=["de=runs/vectors/mono/de.vec"]'                            # German alone, its own vectors
    python experiments/embeddings/table.py --models mlp,cnn,han                         # the paper's Table 2 layout
"""

from xlgraph.config import default_config

XLMT = "../shared/data/xlmt_umsab_sentiment"
LANGS = ("en", "de", "fr", "es", "it", "pt")
VECTORS = "runs/vectors"


def get_config(arch: str = "mlp"):
    c = default_config()
    c.name = f"embeddings-xlmt-{arch}"
    c.workdir = f"runs/embeddings-xlmt-{arch}"
    c.model.arch = arch
    c.data.sources = [f"xlmt:{XLMT}?langs={','.join(LANGS)}"]
    c.data.train_langs = list(LANGS)
    c.embeddings.mode = "multi"
    c.embeddings.vectors = [f"{lang}={VECTORS}/procrustes/{lang}.vec" for lang in LANGS]
    c.embeddings.class_weights = True  # the paper's weighted cross-entropy (XLM-T is balanced: weights ≈ equal)
    c.tokens.max_length = 32  # words; 99% of these tweets have at most 28
    c.tokens.buckets = (16, 32)
    c.train.batch_size = 32
    c.train.eval_batch_size = 256
    c.train.epochs = 10
    c.train.lr = 1e-3
    c.train.warmup_ratio = 0.05
    c.train.weight_decay = 0.0
    c.train.clip_norm = 5.0
    c.train.log_every = 50
    c.checkpoint.keep_last = 1  # each checkpoint holds the whole (frozen) table
    return c
