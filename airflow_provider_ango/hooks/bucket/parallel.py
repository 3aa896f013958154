"""The one way per-object storage steps keep several requests in flight: an ordered, bounded map.

Header reads, label-file reads, split-layout writes, publishes and deletes all cost one or a few
round trips each and almost no CPU, so at cloud latency they wait, one after another, for the
network. :func:`ordered_map` runs such a step on a thread pool:

- at most ``max_concurrency`` calls are in flight, and at most as many finished results wait for
  an earlier one, so memory is bounded by the number in flight, whatever the number of items;
- items are pulled from the iterator on the caller's thread, only when there is room, and results
  come back in input order (a manifest built concurrently is the serial one, byte for byte);
- the first failure, in input order, stops new work: nothing more is pulled or started, the calls
  in flight are waited for (so nothing is left running behind the caller's clean-up), and the
  error is re-raised as it was, with a note and an ERROR log line naming its object;
- ``max_concurrency=1`` runs every call on the caller's thread, one after another: the serial path.

The SDK clients behind :class:`~airflow_provider_ango.hooks.bucket.BucketHook` are shared by the
threads (each store builds its client once, under a lock, with connection pools at least this
wide: see ``BucketHook.reserve_connections``). No I/O here; no pool is kept between calls.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from airflow_provider_ango.exceptions import BucketArgumentError
from airflow_provider_ango.redaction import scrub_text, truncate

log = logging.getLogger(__name__)

#: Requests in flight for one per-object step, unless an operator's ``max_concurrency`` says otherwise.
DEFAULT_MAX_CONCURRENCY = 16
#: A sanity limit: past this, threads and connections cost more than the round trips they hide.
MAX_CONCURRENCY = 512

Item = TypeVar("Item")
Result = TypeVar("Result")


def check_concurrency(value: Any, name: str = "max_concurrency") -> int:
    """``value`` as an int in ``[1, MAX_CONCURRENCY]``; a rendered template (``"16"``) is accepted.

    Anything else raises :class:`BucketArgumentError` (a ``ValueError``) naming the argument.
    """
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_CONCURRENCY:
        raise BucketArgumentError(
            f"{name} must be a whole number from 1 (one request at a time) to {MAX_CONCURRENCY}, "
            f"got {value!r}; {DEFAULT_MAX_CONCURRENCY} is the default"
        )
    return number


def ordered_map(
    step: Callable[[Item], Result],
    items: Iterable[Item],
    *,
    max_concurrency: int,
    name_of: Callable[[Item], str],
    what: str = "storage step",
) -> Generator[Result, None, None]:
    """``step(item)`` for every item, at most ``max_concurrency`` at once, results in input order.

    :param name_of: how an error names an item (an object URI, say); called only on failure.
    :param what: what the step does, for that error ("publish", "header read").

    A generator: nothing starts before the first ``next()``. Closing it early (or an exception in
    the consumer) stops new work and waits for the calls in flight before it returns.
    """
    limit = check_concurrency(max_concurrency)
    if limit == 1:
        return _serial(step, items, name_of, what)
    return _concurrent(step, items, limit, name_of, what)


def _serial(
    step: Callable[[Item], Result], items: Iterable[Item], name_of: Callable[[Item], str], what: str
) -> Generator[Result, None, None]:
    for item in items:
        try:
            result = step(item)
        except Exception as error:
            _name_failure(error, name_of(item), what, 0)
            raise
        yield result


def _concurrent(
    step: Callable[[Item], Result],
    items: Iterable[Item],
    limit: int,
    name_of: Callable[[Item], str],
    what: str,
) -> Generator[Result, None, None]:
    source = iter(items)
    window: deque[tuple[Item, Future[Result]]] = deque()
    exhausted = failed = False
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="ango-bucket")
    try:
        while True:
            while window and window[0][1].done():
                item, future = window.popleft()
                error = future.exception()
                if error is not None:
                    running = sum(1 for _, later in window if not later.done())
                    _name_failure(error, name_of(item), what, running)
                    raise error
                yield future.result()
            running = sum(1 for _, future in window if not future.done())
            failed = failed or any(future.done() and future.exception() for _, future in window)
            # Room: fewer than `limit` in flight, and fewer than `limit` results held for an earlier one.
            while not (exhausted or failed) and running < limit and len(window) < 2 * limit:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                window.append((item, pool.submit(step, item)))
                running += 1
            if not window:
                return
            if not window[0][1].done():
                pending = [future for _, future in window if not future.done()]
                if len(pending) < limit and len(window) < 2 * limit and not (exhausted or failed):
                    continue  # calls finished since the fill: refill before waiting on the rest
                wait(pending, return_when=FIRST_COMPLETED)
    finally:
        for _, future in window:
            future.cancel()
        pool.shutdown(wait=True)  # nothing keeps running behind the caller's clean-up


def _name_failure(error: BaseException, name: str, what: str, running: int) -> None:
    """Log and note which object failed, and that new work stopped (the error itself is kept)."""
    waited = f", waiting for the {running} still in flight" if running else ""
    detail = truncate(scrub_text(str(error)))
    log.error(
        "The %s of %s failed (%s: %s); no new work is started%s",
        what,
        name,
        type(error).__name__,
        detail,
        waited,
    )
    if name not in str(error):
        add_note = getattr(error, "add_note", None)  # Python 3.11+
        if add_note is not None:
            add_note(f"while running the {what} of {name}")


__all__ = ["DEFAULT_MAX_CONCURRENCY", "MAX_CONCURRENCY", "check_concurrency", "ordered_map"]
