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
they are sent (:func:`~airflow_provider_ango.models.filters.format_ango_time`). Flooring
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

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.models.filters import TimeWindow

_BOUND_KEYS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}

WindowArg = TimeWindow | Mapping[str, Any] | None


def parse_time(value: Any, name: str) -> datetime:
    """A bound given as a datetime or ISO-8601 text (a rendered template); it must carry a zone."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = f"{text[:-1]}+00:00"  # Python 3.10's fromisoformat does not read "Z"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise AngoExportConfigError(
                f"{name}: {value!r} is not an ISO-8601 time; use e.g. '2024-05-01T00:00:00+00:00' "
                "or '{{ data_interval_start }}'"
            ) from error
    else:
        raise AngoExportConfigError(
            f"{name}: expected a datetime or ISO-8601 text, got {type(value).__name__}"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AngoExportConfigError(
            f"{name}: {moment.isoformat()} has no timezone; add one (e.g. '+00:00') so that the "
            "window is not shifted by the worker's local zone"
        )
    return moment


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
            bounds[field] = parse_time(bound, f"{name}.{key}")
    try:
        return TimeWindow(**bounds)
    except ValueError as error:
        raise AngoExportConfigError(f"{name}: {error}") from error


def incremental_window(context: Mapping[str, Any]) -> TimeWindow:
    """``[data_interval_start, data_interval_end)`` of the running DAG run, in UTC."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None:
        raise AngoExportConfigError(
            "incremental=True needs the run's data interval, and this run has none (a manual run "
            "without a logical date?); trigger it with a logical date, or pass updated_at explicitly"
        )
    start_time = parse_time(start, "data_interval_start")
    end_time = parse_time(end, "data_interval_end")
    if end_time < start_time:
        raise AngoExportConfigError(f"data interval ends before it starts: {start_time} > {end_time}")
    return TimeWindow.half_open(start_time, end_time)


def window_summary(updated_at: TimeWindow | None, created_at: TimeWindow | None) -> dict[str, Any] | None:
    """The windows as Ango received them (UTC strings), for XCom and the manifest."""
    summary: dict[str, Any] = {}
    if updated_at is not None:
        summary["updatedAt"] = updated_at.to_api()
    if created_at is not None:
        summary["createdAt"] = created_at.to_api()
    return summary or None


__all__ = ["coerce_window", "incremental_window", "parse_time", "window_summary"]
