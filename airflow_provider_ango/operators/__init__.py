"""Ango Hub operators."""
