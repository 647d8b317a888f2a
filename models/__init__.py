"""Bundled model weights; see MANIFEST for each file's sha256, licence and source."""
