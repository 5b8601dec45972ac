"""xlgraph: cross-lingual text classification in JAX."""

__version__ = "0.1.0"
