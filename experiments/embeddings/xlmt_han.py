"""HAN + Sent-Ali (Mhamdi et al. §3.2) on XLM-T tweet sentiment: a word-level bi-GRU + attention per sentence, a
sentence-level one per tweet; every step alternates a classification update with a sentence-alignment update
(1 − cos between a sentence and its English translation through the shared word level) on parallel sentences:
Multi30k (de, fr) and Tatoeba (es, it, pt, de, fr). The embedding table is shared by both tasks and trained by them.
Tweets are cut into at most 3 sentences of 16 words (a longer sentence continues in the next slot).
Mono mode (one language, its own vectors) has no English to align to: experiments/embeddings/table.py runs it as
plain HAN.

    xlgraph train experiments/embeddings/xlmt_han.py
    xlgraph train experiments/embeddings/xlmt_han.py embeddings.sentence_alignment=false     # HAN alone
"""

import experiments.embeddings.xlmt_mlp as _base  # configs import one another as modules (load_config)

SHARED = "../shared/data"


def get_config():
    c = _base.get_config("han")
    c.embeddings.han.words_per_sentence = 16
    c.tokens.max_length = 48  # 3 sentence slots
    c.tokens.buckets = (16, 32, 48)
    c.embeddings.freeze = False  # "a single embeddings layer which is tuned by the two tasks"
    c.embeddings.sentence_alignment = True
    c.embeddings.parallel = [f"multi30k:{SHARED}/parallel_multi30k/raw?langs=de,fr",
                             f"tatoeba:{SHARED}/parallel_tatoeba_laser/v1?langs=de,fr,es,it,pt"]
    c.embeddings.max_pairs = 4000  # per language: Multi30k's 29k captions per language would dominate
    c.embeddings.align_lr = 1e-3
    c.train.epochs = 4
    return c
