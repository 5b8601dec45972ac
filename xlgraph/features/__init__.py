"""Features of documents and words for the models that take fixed inputs (graphs, pseudo-labelling)."""
