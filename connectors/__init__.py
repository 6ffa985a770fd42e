"""Connectors: each source or destination offers pull(entity, since) and push(entity, frame)."""
