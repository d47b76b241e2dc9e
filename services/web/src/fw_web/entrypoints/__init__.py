"""Thin entrypoints: the pages (HTML), the polled fragments, downloads, health."""
