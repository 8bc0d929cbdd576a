"""Pruning algorithms (what to do with a layer's statistics) and the engine that walks the layers."""
