"""Ango Hub triggers."""
