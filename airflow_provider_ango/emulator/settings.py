"""The emulator's settings: the documented limits and, where the sources disagree, which reading it plays.

One frozen :class:`EmulatorSettings` holds them all; ``AngoEmulator(settings=...)``, the command line
(``python -m airflow_provider_ango.emulator --help``) and the pytest fixtures all build one. The
defaults are the strict ones: Ango's REST documentation as ango-api.md summarizes it, never more
lenient than the real service is known to be.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

ANSWER_SHAPES = ("rest", "sdk")
BATCH_REFS = ("names", "ids")
BATCH_UPDATES = ("replace", "merge")
PAGE_LIMIT_MODES = ("clamp", "reject")
TIE_ORDERS = ("shuffle", "stable")
DOCUMENTED_PAGE_LIMIT = 100
_WINDOWS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_SORT = re.compile(r"^-?[A-Za-z_]+(,-?[A-Za-z_]+)*$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """``requests`` admitted per organization in any rolling window of ``window_seconds``."""

    requests: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or not self.window_seconds > 0:
            raise ValueError(f"a rate limit needs requests >= 1 and a window > 0, got {self}")

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """``100/min``, ``100/s``, ``100/5s`` (a window of 5 s), ``5000/hour``; ``off`` (or ``none``) means
        no limit at all."""
        if text.strip().lower() in ("off", "none"):
            return None
        match = _RATE.match(text.lower())
        if match is None or match.group(3) not in _WINDOWS:
            raise ValueError(f"rate limit must look like 100/min, 100/s, 100/5s or off, got {text!r}")
        count = float(match.group(2)) if match.group(2) else 1.0
        return cls(int(match.group(1)), count * _WINDOWS[match.group(3)])

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "hour"}.get(self.window_seconds)
        return f"{self.requests}/{unit}" if unit else f"{self.requests}/{self.window_seconds:g}s"


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


@dataclass(frozen=True)
class EmulatorSettings:
    """Every switch of the emulator; the defaults follow Ango's REST documentation.

    - ``page_limit``: the largest ``limit`` a list endpoint serves (100, documented); ``None``
      lifts the cap (only the transitional fixtures do that, never a test of the limits);
    - ``page_limit_mode``: above the cap, ``clamp`` to it (a short page that is not the last) or
      ``reject`` with 400;
    - ``rate_limit``: requests per organization in a rolling window (``RateLimit`` or a string
      such as ``"100/min"``, ``"100/s"``, ``"off"``); every key of an organization shares it;
    - ``retry_after``: a 429 carries ``Retry-After`` (seconds until the window admits again);
    - ``latency_ms``: every ``/v2`` answer is held this long;
    - ``answer_shapes``: ``rest`` (the REST documentation's answers) or ``sdk`` (what the SDK reads);
    - ``batch_refs``: a cloud import's batch references are batch ``names`` (REST docs) or ``ids`` (SDK);
    - ``batch_update``: ``{"batches": [...]}`` on create batch ``replace``s the project's list, or
      ``merge``s into it;
    - ``default_sort``: the order of a list request without ``sort`` (``-createdAt``, newest first,
      documented; the transitional fixtures use ``createdAt``, the order the SDK-built client met);
    - ``tie_order``: list items whose sort keys tie come in a new order on every request
      (``shuffle``, as MongoDB does not promise one) unless the sort includes ``_id``, or in row
      order (``stable``);
    - ``split_part_records``: records per file of a ``format=split`` export.
    """

    page_limit: int | None = DOCUMENTED_PAGE_LIMIT
    page_limit_mode: str = "clamp"
    rate_limit: RateLimit | str | None = field(default_factory=lambda: RateLimit(100, 60.0))
    retry_after: bool = True
    latency_ms: int = 0
    answer_shapes: str = "rest"
    batch_refs: str = "names"
    batch_update: str = "replace"
    default_sort: str = "-createdAt"
    tie_order: str = "shuffle"
    split_part_records: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.rate_limit, str):
            object.__setattr__(self, "rate_limit", RateLimit.parse(self.rate_limit))
        if self.page_limit is not None and self.page_limit < 1:
            raise ValueError(f"page_limit must be >= 1 or None, got {self.page_limit}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.split_part_records < 1:
            raise ValueError(f"split_part_records must be >= 1, got {self.split_part_records}")
        _choice("page_limit_mode", self.page_limit_mode, PAGE_LIMIT_MODES)
        _choice("answer_shapes", self.answer_shapes, ANSWER_SHAPES)
        _choice("batch_refs", self.batch_refs, BATCH_REFS)
        _choice("batch_update", self.batch_update, BATCH_UPDATES)
        _choice("tie_order", self.tie_order, TIE_ORDERS)
        if not _SORT.match(self.default_sort):
            raise ValueError(
                f"default_sort must be fields joined by commas, each maybe with -, got {self.default_sort!r}"
            )

    @property
    def limiter(self) -> RateLimit | None:
        """``rate_limit`` as parsed (``__post_init__`` turns a string into a ``RateLimit``)."""
        return self.rate_limit if isinstance(self.rate_limit, RateLimit) else None

    @property
    def rest_shapes(self) -> bool:
        return self.answer_shapes == "rest"

    def with_changes(self, **changes: Any) -> EmulatorSettings:
        """A copy with ``changes``; an unknown name is a ``TypeError`` naming the settings there are."""
        known = {item.name for item in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown emulator settings {unknown}; settings: {', '.join(sorted(known))}")
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        result = {item.name: getattr(self, item.name) for item in fields(self)}
        result["rate_limit"] = str(self.limiter) if self.limiter else "off"
        return result


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` is whole seconds; round up so a client that honours it is admitted."""
    return max(1, math.ceil(wait))
