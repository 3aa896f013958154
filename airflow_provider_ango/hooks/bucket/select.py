"""Which listed objects to keep: glob patterns on keys. Pure logic (the time window is a TimeWindow)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from airflow_provider_ango.exceptions import BucketArgumentError


def glob_to_regex(pattern: str) -> str:
    """Translate a path glob to a regular expression matched against the whole relative key.

    - ``*`` matches any run of characters except ``/`` (it stays inside one folder level);
    - ``**`` matches anything, ``/`` included; ``**/`` at the start of a segment also matches no
      folder at all, so ``**/*.jpg`` matches ``a.jpg`` and ``x/y/a.jpg``;
    - ``?`` matches one character except ``/``; ``[abc]``, ``[a-z]``, ``[!abc]`` one character of
      (or not of) a set, never ``/``;
    - every other character matches itself, case-sensitively.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                after = i + 2
                starts_segment = i == 0 or pattern[i - 1] == "/"
                if starts_segment and after < n and pattern[after] == "/":
                    out.append("(?:.*/)?")
                    i = after + 1
                else:
                    out.append(".*")
                    i = after
                    while i < n and pattern[i] == "*":  # '***' is '**'
                        i += 1
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = _class_end(pattern, i)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append(_char_class(pattern[i + 1 : end]))
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 when it is a literal ``[``."""
    j = start + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    return pattern.find("]", j)


def _char_class(body: str) -> str:
    negate = body[:1] in {"!", "^"}
    if negate:
        body = body[1:]
    body = body.replace("\\", "\\\\").replace("[", "\\[")
    if negate:
        return f"[^/{body}]"
    if body.startswith("^"):
        body = "\\" + body
    return f"(?!/)[{body}]"


class KeyFilter:
    """Keeps a key when it matches some ``include`` pattern (or there are none) and no ``exclude``."""

    def __init__(self, include: str | Iterable[str] | None, exclude: str | Iterable[str] | None) -> None:
        self.include = _compile(include, "include")
        self.exclude = _compile(exclude, "exclude")

    def __call__(self, relative_key: str) -> bool:
        if self.include is not None and not self.include.fullmatch(relative_key):
            return False
        return self.exclude is None or not self.exclude.fullmatch(relative_key)


def _compile(patterns: str | Iterable[str] | None, name: str) -> re.Pattern[str] | None:
    if patterns is None:
        return None
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    for item in items:
        if not isinstance(item, str) or not item:
            raise BucketArgumentError(f"{name} patterns must be non-empty strings, got {item!r}")
    if not items:
        return None
    return re.compile("|".join(f"(?:{glob_to_regex(item)})" for item in items), re.DOTALL)
