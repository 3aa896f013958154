"""Operator arguments as Jinja renders them: conversions every operator and sensor shares. No I/O.

Templated fields are stored unchanged in ``__init__`` and converted here when the task runs, so
that ``stages="{{ params.stage }}"`` is one stage after rendering, not one stage per character.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from airflow_provider_ango.exceptions import AngoConfigError


def names_list(value: str | Sequence[str] | None, name: str) -> list[str] | None:
    """A templated list argument as rendered: a list, one name, or the text of a JSON list.

    ``stages="{{ params.stage }}"`` renders to ``"Complete"`` (one stage, not eight letters), and
    a Param holding a list renders to ``"['Label', 'Review']"`` unless the DAG renders native types.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise AngoConfigError(f"{name}: {text!r} is not a list; give a list of names") from None
            if isinstance(parsed, list):
                return [str(item) for item in parsed]
        return [text] if text else []
    return [str(item) for item in value]


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "none", "")


def flag(value: object, name: str) -> bool:
    """A templated switch as rendered: a bool, or its text (``"{{ params.delete }}"`` renders to
    ``"True"``; ``bool("False")`` would be True)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AngoConfigError(f"{name}: {value!r} is not a switch; give True or False")


__all__ = ["flag", "names_list"]
