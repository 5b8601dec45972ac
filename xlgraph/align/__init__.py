"""Cross-lingual word-vector alignment in jax.numpy: Procrustes and CCA maps fitted on bilingual dictionaries (MUSE
files or identical strings), iterative refinement, and word-translation precision with nearest neighbour and CSLS.

Kept free of imports so that `xlgraph.align.dictionary` (the MUSE reader, also used by code-switching) does not
pull in JAX; import the modules themselves: `procrustes`, `cca`, `retrieval`, `evaluate`, `fit`.
"""
