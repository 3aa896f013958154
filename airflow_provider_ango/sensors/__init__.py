"""Ango Hub sensors."""
