"""Ango Hub sensors: ``imports`` (every imported asset has a task) and ``stage`` (tasks reached a
stage), both deferrable through ``base``."""
