"""Heterogeneous graphs of document and word nodes: construction, normalisation, kNN similarity edges."""
