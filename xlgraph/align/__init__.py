"""Cross-lingual word-vector alignment in jax.numpy: Procrustes and CCA maps fitted on bilingual dictionaries (MUSE
files or identical strings), iterative refinement, and word-translation precision with nearest neighbour and CSLS.

The dictionaries themselves (MUSE files, identical strings) are read by `xlgraph.text.dictionary`, below this
package. Import the modules themselves: `procrustes`, `cca`, `retrieval`, `evaluate`, `mapping`.
"""
