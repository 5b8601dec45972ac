"""Self-learning on XLM-T tweet sentiment (UMSAB, 3 classes): train on English, pseudo-label the other seven
languages' training tweets as an unlabeled pool (their gold labels only report pseudo-label precision), select on
English dev (zero-shot), evaluate ar, de, es, fr, hi, it, pt test. The demo's encoder settings (multilingual-e5-small,
first-token pooling, `query: `, frozen embeddings, top 6 layers trained, lr 3e-4); tweets need 64 tokens (99% of
them fit).

    xlgraph train experiments/self_learning/xlmt.py
    xlgraph train experiments/self_learning/xlmt.py method=finetune                  # the baseline alone
    python experiments/adversarial/table.py experiments/self_learning/xlmt.py --workdir runs/table-xlmt --seeds 0,1,2
"""

from xlgraph.config import demo_config

XLMT = "../shared/data/xlmt_umsab_sentiment"
TARGETS = "ar,de,es,fr,hi,it,pt"


def get_config():
    c = demo_config()
    c.name = "self-learning-xlmt"
    c.method = "self_learning"
    c.workdir = "runs/self-learning-xlmt"
    c.data.sources = [f"xlmt:{XLMT}?langs=en&splits=train,dev", f"xlmt:{XLMT}?langs={TARGETS}&splits=test",
                      f"xlmt:{XLMT}?langs={TARGETS}&splits=train&split=unlabeled"]
    c.tokens.max_length = 64
    c.tokens.buckets = (32, 64)
    c.train.epochs = 2
    c.self_learning.per_class = 30
    c.self_learning.rounds = 2
    return c
