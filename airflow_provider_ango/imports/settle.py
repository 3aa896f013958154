"""Writes that may have been applied: set aside until Ango has had time to apply them.

A POST that fails ambiguously (:class:`~airflow_provider_ango.exceptions.AngoAmbiguousWriteError`:
a read timeout, a dropped connection, a 500) may still be applied by Ango, later than the client
waited. Sending its items again at once, or after a fixed short delay, doubles every item Ango
applies later than that. So the chunk is set aside here with the time of its POST; the import goes
on with the others and comes back to it once ``settle`` seconds have passed since that POST
(the service's processing time, well above the client timeout). Only its items absent then are
sent again. Items sent more than once are checked for duplicates at the end of the run, ``settle``
seconds after their last POST: a write applied later than ``settle`` (but before then) made them,
and the extra assets are deleted again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError
from airflow_provider_ango.progress import LogLike

#: ``(externalId, import item)`` pairs of one chunk.
Items = list[tuple[str, dict[str, Any]]]
DELETE_CHUNK = 500


@dataclass
class Unsettled:
    """A chunk whose last POST was ambiguous: ``rounds`` ambiguous POSTs so far, the last at ``posted_at``."""

    items: Items
    posted_at: float
    rounds: int


@dataclass
class SettleLedger:
    """The chunks set aside, and the externalIds sent more than once (for the duplicate sweep)."""

    settle: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pending: list[Unsettled] = field(default_factory=list)
    resent: dict[str, None] = field(default_factory=dict)  # ordered set
    last_resent_at: float | None = None

    def set_aside(self, items: Items, posted_at: float, rounds: int) -> None:
        self.pending.append(Unsettled(items, posted_at, rounds))

    def take_due(self, wait: bool) -> Unsettled | None:
        """The oldest chunk whose settle time has passed (waiting for it if ``wait``), or None."""
        if not self.pending:
            return None
        entry = min(self.pending, key=lambda unsettled: unsettled.posted_at)
        remaining = entry.posted_at + self.settle - self.clock()
        if remaining > 0:
            if not wait:
                return None
            self.sleep(remaining)
        self.pending.remove(entry)
        return entry

    def note_resent(self, external_ids: list[str], posted_at: float) -> None:
        self.resent.update(dict.fromkeys(external_ids))
        self.last_resent_at = (
            posted_at if self.last_resent_at is None else max(self.last_resent_at, posted_at)
        )

    def wait_before_sweep(self) -> float:
        """Sleep until ``settle`` has passed since the last re-send; the seconds waited."""
        if self.last_resent_at is None:
            return 0.0
        remaining = self.last_resent_at + self.settle - self.clock()
        if remaining > 0:
            self.sleep(remaining)
            return remaining
        return 0.0


def extra_assets(assets_by_id: dict[str, list[Any]]) -> list[str]:
    """Of each externalId's assets, all but the oldest (the smallest ``_id``: Ango's ids start with
    their creation time): the ids to delete."""
    extras: list[str] = []
    for assets in assets_by_id.values():
        if len(assets) > 1:
            ordered = sorted({asset.id for asset in assets})
            extras.extend(ordered[1:])
    return extras


def delete_extras(
    extras: list[str],
    delete: Callable[[list[str]], Any],
    extras_now: Callable[[], list[str]],
    log: LogLike,
) -> int:
    """Delete ``extras`` (asset ids) ``DELETE_CHUNK`` at a time; after an ambiguous delete, only those
    still extra when looked at again (``extras_now()``) are deleted once more. The count deleted."""
    for start in range(0, len(extras), DELETE_CHUNK):
        batch = extras[start : start + DELETE_CHUNK]
        try:
            delete(batch)
        except AngoAmbiguousWriteError as error:
            log.warning("Deleting %d duplicate(s) may have failed (%s); looking again", len(batch), error)
            wanted = set(batch)
            remaining = [asset_id for asset_id in extras_now() if asset_id in wanted]
            if remaining:
                delete(remaining)
    return len(extras)


__all__ = ["DELETE_CHUNK", "Items", "SettleLedger", "Unsettled", "delete_extras", "extra_assets"]
