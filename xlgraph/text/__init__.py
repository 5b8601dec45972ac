"""Text tools: dictionaries, code-switching (later POS tagging and word vectors)."""
