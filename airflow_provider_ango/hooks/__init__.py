"""Hooks of the Ango Hub provider."""
