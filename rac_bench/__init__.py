"""rac-bench: what pruning really costs a reasoning model."""

__version__ = "0.2.0"
