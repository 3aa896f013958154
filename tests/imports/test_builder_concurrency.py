"""imports/builder.py with reads in flight: the records are the serial ones, byte for byte, in order.

The reads are made to finish out of order on purpose (every other read waits until the next one has
started), and the build meets every kind of outcome a read can have: sizes found, a JPEG whose frame
header needs a second, longer read, no size in the header, a missing file, sidecars valid, invalid
and missing, and external ids that fail before any read is used.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder
from airflow_provider_ango.imports.rules import ItemRules, ObjectInfo
from airflow_provider_ango.imports.window import compute_window
from tests.imports.helpers import T0, Obj, jpeg, png

log = logging.getLogger("tests.imports.concurrency")
WAIT = 5.0


class ScramblingSource:
    """Files in memory; read number ``2k`` waits until read ``2k + 1`` has started.

    ``total_reads`` (known from a serial run) spares the last read a wait for one that never
    comes; ``0`` makes no read wait.
    """

    def __init__(self, files: dict[str, bytes], total_reads: int) -> None:
        self.files = files
        self.total_reads = total_reads
        self.lock = threading.Lock()
        self.count = 0
        self.events: dict[int, threading.Event] = {}
        self.finish_order: list[int] = []

    def url(self, key: str) -> str:
        return "https://store.example/b/" + quote(key, safe="/")

    def _event(self, number: int) -> threading.Event:
        with self.lock:
            return self.events.setdefault(number, threading.Event())

    def read(self, key: str, start: int, end: int | None) -> bytes:
        with self.lock:
            number = self.count
            self.count += 1
        self._event(number).set()
        if number % 2 == 0 and number + 1 < self.total_reads:
            self._event(number + 1).wait(WAIT)
        with self.lock:
            self.finish_order.append(number)
        if key not in self.files:
            raise FileNotFoundError(key)
        return self.files[key][start:end]


def objects_and_files() -> tuple[list[Obj], dict[str, bytes]]:
    objs: list[Obj] = []
    files: dict[str, bytes] = {}
    for number in range(240):
        kind = number % 6
        if kind == 0:
            key = f"img/{number:03d}.png"
            files[key] = png(number + 1, number + 2)
        elif kind == 1:
            key = f"img/{number:03d}.jpg"
            files[key] = jpeg(number + 3, number + 4, exif_bytes=70_000)  # past the first 64 KiB
        elif kind == 2:
            key = f"vid/{number:03d}.mp4"
            files[key + ".json"] = b'{"frameRate": 25, "frameCount": %d}' % (number + 1)
        elif kind == 3:
            key = f"img/missing-{number:03d}.png"  # listed, then gone before its header is read
        elif kind == 4:
            key = f"img/unread-{number:03d}.tif"  # an image whose size the header reader cannot tell
            files[key] = b"II*\x00 a TIFF header the builder does not parse" * 4
        else:
            key = f"vid/{number:03d}.mp4"
            if number % 12 == 5:
                files[key + ".json"] = b'{"frameCount": 1.5}'  # invalid: an error record
            # else: no sidecar, which is no error
        objs.append(Obj(key, size=number + 1))  # no empty file: that is an invalid item of its own
    objs.append(Obj("stray.tmp"))  # not an asset type
    objs.append(Obj("img/late.png", last_modified=T0 + timedelta(days=1)))  # outside the window
    return objs, files


def external_id(obj: ObjectInfo) -> str:
    if (obj.size - 1) % 17 == 0 and obj.size > 1:
        raise ValueError(f"no external id for {obj.key}")
    return f"ext/{obj.key}"


def build(
    objs: list[Obj], source: ScramblingSource, concurrency: int, caplog: pytest.LogCaptureFixture
) -> tuple[list[bytes], Any, list[str]]:
    window = compute_window(T0, T0 + timedelta(days=1))
    rules = ItemRules(prefix="in/", bucket="b", external_id=external_id, batches=["{folder}"])
    options = BuildOptions(image_dimensions=True, video_sidecar="{relative_key}.json")
    builder = ItemBuilder(rules, options, window, source.url, source.read, log, max_concurrency=concurrency)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=log.name):
        lines = [record.to_line() for record in builder.build(iter(objs))]
    warnings = [record.getMessage() for record in caplog.records if record.name == log.name]
    return lines, builder.stats, warnings


def test_records_stats_and_warnings_are_the_serial_ones_in_order(caplog: pytest.LogCaptureFixture) -> None:
    objs, files = objects_and_files()
    serial_source = ScramblingSource(files, total_reads=0)  # no waiting: one read at a time
    serial, serial_stats, serial_warnings = build(objs, serial_source, 1, caplog)
    total = serial_source.count

    source = ScramblingSource(files, total_reads=total)
    concurrent, stats, warnings = build(objs, source, 8, caplog)

    assert source.count == total  # the same reads
    assert source.finish_order != sorted(source.finish_order)  # they did finish out of order
    assert b"\n".join(concurrent) == b"\n".join(serial)
    assert stats == serial_stats
    assert warnings == serial_warnings
    # The build met every outcome (the comparison above covers them all).
    text = b"\n".join(serial)
    assert b'"width":1,"height":2' in text  # a PNG
    assert b'"width":4,"height":5' in text  # a JPEG read twice
    assert b"FileNotFoundError" in text
    assert b"frameCount" in text
    assert b"no external id" in text
    assert b"not a PNG image" not in text  # the TIFFs are images of unknown size, not refused
    garbage = [n for n in range(240) if n % 6 == 4 and not (n % 17 == 0 and n)]
    assert serial_stats.image_size_unknown == len(garbage)  # the others failed on their external id
    assert serial_stats.outside_window == 1
    assert serial_stats.skipped_type == 1
    assert len(serial_warnings) == 10  # the first ten unknown sizes, the same ten


def test_a_store_failure_stops_the_build_naming_the_object(caplog: pytest.LogCaptureFixture) -> None:
    from airflow_provider_ango.exceptions import BucketError

    objs = [Obj(f"img/{number:03d}.png") for number in range(100)]
    files = {obj.key: png(5, 5) for obj in objs}
    reads: list[str] = []

    def read(key: str, start: int, end: int | None) -> bytes:
        reads.append(key)
        if key == "img/030.png":
            raise BucketError("Could not read s3://b/in/img/030.png: access denied (AccessDenied)")
        return files[key][start:end]

    window = compute_window(T0, T0 + timedelta(days=1))
    builder = ItemBuilder(
        ItemRules(prefix="in/", bucket="b"),
        BuildOptions(image_dimensions=True),
        window,
        lambda key: key,
        read,
        log,
        max_concurrency=4,
    )
    taken: list[Any] = []
    with pytest.raises(BucketError, match=r"in/img/030\.png"):
        taken.extend(builder.build(objs))
    assert len(taken) == 30  # the records before it, then the error
    assert len(reads) < 30 + 1 + 2 * 4  # no reads past the window once it failed
