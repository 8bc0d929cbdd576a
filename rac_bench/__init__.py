"""rac-bench: what pruning really costs a reasoning model."""

__version__ = "0.1.0"
