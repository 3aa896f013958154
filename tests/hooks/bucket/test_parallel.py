"""hooks/bucket/parallel.py: the ordered, bounded map (pure logic, threads, no I/O)."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator

import pytest

from airflow_provider_ango.hooks.bucket import BucketArgumentError
from airflow_provider_ango.hooks.bucket.parallel import (
    DEFAULT_MAX_CONCURRENCY,
    MAX_CONCURRENCY,
    check_concurrency,
    ordered_map,
)

WAIT = 10.0  # a test that would hang fails after this instead


class InFlight:
    """Counts calls in flight and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    def enter(self, item: int) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.started.append(item)

    def leave(self, item: int) -> None:
        with self.lock:
            self.now -= 1
            self.finished.append(item)


def test_results_come_in_input_order_when_calls_finish_out_of_order() -> None:
    """Even items wait until the next odd one has finished: completion order is scrambled."""
    done = {n: threading.Event() for n in range(200)}
    finished: list[int] = []

    def step(item: int) -> int:
        if item % 2 == 0:
            assert done[item + 1].wait(WAIT), f"item {item + 1} never ran beside item {item}"
        finished.append(item)
        done[item].set()
        return item * 10

    results = list(ordered_map(step, range(200), max_concurrency=4, name_of=str))
    assert results == [n * 10 for n in range(200)]
    assert finished != sorted(finished)  # they really finished out of order


def test_at_most_n_in_flight_and_n_really_reached() -> None:
    flight = InFlight()
    together = threading.Barrier(8, timeout=WAIT)  # the first 8 can only pass all in flight at once

    def step(item: int) -> int:
        flight.enter(item)
        if item < 8:
            together.wait()
        flight.leave(item)
        return item

    assert list(ordered_map(step, range(100), max_concurrency=8, name_of=str)) == list(range(100))
    assert flight.most == 8


def test_items_are_pulled_lazily_so_memory_is_bounded_by_the_window() -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        for number in itertools.count():
            pulled += 1
            yield number

    results = ordered_map(lambda n: n, endless(), max_concurrency=4, name_of=str)
    for taken, value in enumerate(results, start=1):
        assert value == taken - 1
        assert pulled <= taken + 2 * 4  # in flight (4) plus finished ones waiting (4)
        if taken == 1000:
            break
    results.close()


class SetOnError(logging.Handler):
    """Sets an event when the map logs its failure (before it waits for the calls in flight)."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__(logging.ERROR)
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        self.event.set()


def test_the_first_failure_names_its_object_stops_new_work_and_waits_for_those_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flight = InFlight()
    started = {n: threading.Event() for n in range(1000)}
    release = threading.Event()
    caller_saw_it = threading.Event()
    seen_by_late_ones: list[bool] = []
    pulled: list[int] = []
    handler = SetOnError(release)
    logging.getLogger("airflow_provider_ango.hooks.bucket.parallel").addHandler(handler)

    def source() -> Iterator[int]:
        for number in range(1000):
            pulled.append(number)
            yield number

    def step(item: int) -> int:
        flight.enter(item)
        started[item].set()
        try:
            if item == 5:  # fails while 6 and 7 are in flight
                assert started[6].wait(WAIT)
                assert started[7].wait(WAIT)
                raise OSError("connection reset")
            if item in (6, 7):  # they end only once the failure was logged
                assert release.wait(WAIT)
                # Had the map not waited for them, the caller would see the error meanwhile.
                seen_by_late_ones.append(caller_saw_it.wait(0.3))
            return item
        finally:
            flight.leave(item)

    results = ordered_map(
        step, source(), max_concurrency=4, name_of=lambda n: f"s3://b/obj-{n}", what="publish"
    )
    seen: list[int] = []
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(OSError, match="connection reset") as caught:
            seen.extend(results)  # keeps what came before the failure
        caller_saw_it.set()
    finally:
        logging.getLogger("airflow_provider_ango.hooks.bucket.parallel").removeHandler(handler)
    assert seen == [0, 1, 2, 3, 4]
    assert flight.now == 0  # 6 and 7 had finished before the error reached the caller
    assert sorted(flight.finished) == sorted(flight.started)
    assert {6, 7} <= set(flight.finished)
    assert seen_by_late_ones == [False, False]
    assert max(pulled) < 5 + 2 * 4  # no new work past the window once 5 failed
    messages = [record.getMessage() for record in caplog.records]
    assert any("publish of s3://b/obj-5 failed" in message for message in messages)
    assert any("s3://b/obj-5" in note for note in getattr(caught.value, "__notes__", [str(caught.value)]))


def test_an_error_in_the_source_iterator_waits_for_those_in_flight() -> None:
    flight = InFlight()

    def source() -> Iterator[int]:
        yield from range(3)
        raise RuntimeError("listing failed")

    def step(item: int) -> int:
        flight.enter(item)
        flight.leave(item)
        return item

    with pytest.raises(RuntimeError, match="listing failed"):
        list(ordered_map(step, source(), max_concurrency=4, name_of=str))
    assert flight.now == 0


def test_closing_early_waits_for_the_calls_in_flight() -> None:
    flight = InFlight()
    gate = threading.Event()
    three_started = threading.Semaphore(0)

    def step(item: int) -> int:
        flight.enter(item)
        try:
            if item > 0:
                three_started.release()
                assert gate.wait(WAIT)
            return item
        finally:
            flight.leave(item)

    def open_gate() -> None:
        for _ in range(3):  # items 1-3 (unless close() cancelled one before it started)
            if not three_started.acquire(timeout=1.0):
                break
        gate.set()

    results = ordered_map(step, range(100), max_concurrency=4, name_of=str)
    assert next(results) == 0
    opener = threading.Thread(target=open_gate)
    opener.start()
    results.close()  # returns once the calls in flight have finished
    assert flight.now == 0
    assert sorted(flight.finished) == sorted(flight.started)
    assert len(flight.started) <= 1 + 2 * 4
    opener.join(WAIT)


def test_one_at_a_time_runs_on_the_callers_thread() -> None:
    threads: set[int] = set()

    def step(item: int) -> int:
        threads.add(threading.get_ident())
        return item

    assert list(ordered_map(step, range(50), max_concurrency=1, name_of=str)) == list(range(50))
    assert threads == {threading.get_ident()}


def test_one_at_a_time_failure_is_named_too(caplog: pytest.LogCaptureFixture) -> None:
    def step(item: int) -> int:
        if item == 2:
            raise ValueError("bad header")
        return item

    with caplog.at_level(logging.ERROR), pytest.raises(ValueError, match="bad header"):
        list(ordered_map(step, range(5), max_concurrency=1, name_of=lambda n: f"gs://b/{n}.png"))
    assert any("gs://b/2.png" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("value", [1, 16, "16", " 4 ", MAX_CONCURRENCY])
def test_concurrency_settings_accepted(value: object) -> None:
    assert check_concurrency(value) == int(str(value).strip())


@pytest.mark.parametrize("value", [0, -1, True, "x", "1.5", 2.0, None, MAX_CONCURRENCY + 1])
def test_concurrency_settings_refused_with_the_argument_and_the_range(value: object) -> None:
    with pytest.raises(BucketArgumentError, match=rf"max_concurrency must be .* 1 .* {MAX_CONCURRENCY}"):
        check_concurrency(value)


def test_a_bad_setting_fails_at_the_call_before_any_work() -> None:
    calls: list[int] = []
    with pytest.raises(BucketArgumentError):
        ordered_map(calls.append, range(3), max_concurrency=0, name_of=str)  # type: ignore[arg-type]
    assert calls == []
    assert DEFAULT_MAX_CONCURRENCY == 16


def test_a_slow_first_call_does_not_stop_the_refill_behind_it() -> None:
    # The first call finishes only once 3 x the limit of later calls have: the map must keep
    # starting new calls while results wait behind it, even when every other call in flight ends
    # before it would wait (a head-of-line stall otherwise, until the first call ends).
    limit, needed = 4, 6
    later_done = 0
    lock = threading.Lock()
    enough = threading.Event()

    def step(item: int) -> int:
        nonlocal later_done
        if item == 0:
            assert enough.wait(WAIT), f"only {later_done} later calls ran while the first one waited"
            return item
        with lock:
            later_done += 1
            if later_done >= needed:
                enough.set()
        return item

    for _ in range(30):  # the stall needed the later calls to end before the map waited: repeat
        later_done = 0
        enough.clear()
        assert list(ordered_map(step, range(12), max_concurrency=limit, name_of=str)) == list(range(12))
