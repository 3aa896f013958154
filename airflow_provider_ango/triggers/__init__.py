"""Ango Hub triggers (plain-value kwargs, one event each): ``imports`` and ``stage`` poll through
``base``; ``exports`` holds the export request open in the triggerer."""
