"""Dash layouts: one module per feature, each exposing ``layout(...) -> Component``."""
