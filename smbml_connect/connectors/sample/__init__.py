"""The bundled sample business as a source, so the demo runs the same pipeline as a real sync."""
