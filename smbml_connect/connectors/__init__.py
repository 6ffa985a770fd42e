"""Connectors: one package per source or destination kind, found through the registry."""
