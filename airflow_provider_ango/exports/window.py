"""Time windows of an export: explicit ones, and the incremental one taken from a run's data interval.

The bounds rule for incremental exports
---------------------------------------
A scheduled DAG's runs have data intervals laid end to end: run *k* covers
``[t_k, t_k+1)``, run *k+1* covers ``[t_k+1, t_k+2)``. The export of run *k* is asked
for ``updatedAt {"$gte": t_k, "$lt": t_k+1}``.

*Claim.* A task whose ``updatedAt`` is *u* is exported by exactly one run, the run with
``t_k <= u < t_k+1``; in particular a task updated exactly on a boundary ``b = t_k+1``
is exported by run *k+1* only.

*Proof.* The half-open intervals ``[t_k, t_k+1)`` partition the time line: for any *u*
there is exactly one *k* with ``t_k <= u < t_k+1``. ``$gte`` is ``<=`` on the lower side
and ``$lt`` is ``<`` on the upper side, so the filter selects exactly that interval. Ango
stores times with millisecond precision; the bounds are floored to the millisecond before
they are sent (:func:`~airflow_provider_ango.models.window.format_ango_time`). Flooring
is monotonic and run *k*'s upper bound and run *k+1*'s lower bound are the same instant,
floored the same way, so the floored intervals ``[floor(t_k), floor(t_k+1))`` are still
laid end to end and the argument holds unchanged for millisecond values of *u*.

Ango's SDK sends ``{"$gt": a, "$lt": b}`` instead: both ends exclusive, so a task updated
exactly at ``b`` fails ``< b`` in one window and ``> b`` in the next, and is lost. It also
formats local times with a ``Z`` appended; here every bound is converted to UTC.

What the rule cannot fix: a task changed *again* in a later interval is exported again,
as its newer version (that is a change, landed once); and a run that starts before
Ango has recorded every update of its interval misses them, which a scheduled run (it
starts after its interval ends) avoids unless Ango's clock is ahead of Airflow's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from airflow_provider_ango.exceptions import AngoExportConfigError, AngoWindowError
from airflow_provider_ango.models.window import TimeWindow, to_utc

_BOUND_KEYS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}

WindowArg = TimeWindow | Mapping[str, Any] | None


def coerce_window(value: WindowArg, name: str) -> TimeWindow | None:
    """A :class:`TimeWindow` from a model or a mapping of ``gt/gte/lt/lte`` (``$`` prefix allowed)."""
    if value is None or isinstance(value, TimeWindow):
        return value
    if not isinstance(value, Mapping):
        raise AngoExportConfigError(
            f"{name} must be a TimeWindow or a mapping like {{'gte': ..., 'lt': ...}}, "
            f"got {type(value).__name__}"
        )
    bounds: dict[str, datetime] = {}
    for key, bound in value.items():
        field = _BOUND_KEYS.get(str(key).lstrip("$"))
        if field is None:
            raise AngoExportConfigError(f"{name}: unknown bound {key!r}; use gt, gte, lt or lte")
        if bound is not None:
            bounds[field] = to_utc(bound, f"{name}.{key}")
    try:
        return TimeWindow(**bounds)
    except ValidationError as error:
        reasons = "; ".join(str(detail["msg"]).removeprefix("Value error, ") for detail in error.errors())
        raise AngoWindowError(f"{name}: {reasons}") from None


def incremental_window(context: Mapping[str, Any]) -> TimeWindow:
    """``[data_interval_start, data_interval_end)`` of the running DAG run, in UTC."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None:
        raise AngoExportConfigError(
            "incremental=True needs the run's data interval, and this run has none (a manual run "
            "without a logical date?); trigger it with a logical date, or pass updated_at explicitly"
        )
    return TimeWindow.half_open(start, end, ("data_interval_start", "data_interval_end"))


def is_empty(window: TimeWindow | None) -> bool:
    """Whether no time can fall in ``window`` (``[t, t)``, ``(t, t]``, ``(t, t)``)."""
    if window is None or window.start is None or window.end is None or window.start != window.end:
        return False
    return not (window.gte is not None and window.lte is not None)


def require_not_empty(window: TimeWindow | None, name: str) -> None:
    """An explicit window that holds no time is a mistake: say so before Ango builds an export."""
    if window is not None and window.start is not None and is_empty(window):
        raise AngoWindowError(
            f"{name} {window} holds no time (both ends are {window.start.isoformat()}); give an end "
            "after the start, or use gte and lte for a single instant"
        )


def window_summary(updated_at: TimeWindow | None, created_at: TimeWindow | None) -> dict[str, Any] | None:
    """The windows as Ango received them (UTC strings), for XCom and the manifest."""
    summary: dict[str, Any] = {}
    if updated_at is not None:
        summary["updatedAt"] = updated_at.to_api()
    if created_at is not None:
        summary["createdAt"] = created_at.to_api()
    return summary or None


__all__ = ["coerce_window", "incremental_window", "is_empty", "require_not_empty", "window_summary"]
