"""hooks/bucket/streams.py: the chunk reader, and the part writer with a recording Upload (the stores
are tested on emulators)."""

from __future__ import annotations

import contextlib
import gc
import io
from collections.abc import Iterator

import pytest

from airflow_provider_ango.hooks.bucket import BucketError, BucketWriter
from airflow_provider_ango.hooks.bucket.base import Upload


def test_chunk_reader_reads_any_way_it_is_asked() -> None:
    from airflow_provider_ango.hooks.bucket.streams import ChunkReader

    def stream() -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(iter([b"ab", b"", b"cdef", b"g"])), buffer_size=3)

    assert stream().read() == b"abcdefg"
    with stream() as reader:
        assert reader.read(3) == b"abc"
        assert reader.read() == b"defg"
    with stream() as reader:
        assert b"".join(iter(lambda: reader.read(2), b"")) == b"abcdefg"
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            yield b"x"
            yield b"y"
        finally:
            closed.append(True)  # where a store releases its connection

    reader = io.BufferedReader(ChunkReader(chunks()))
    assert reader.read(1) == b"x"
    reader.close()
    assert closed == [True]


class RecordingUpload(Upload):
    def __init__(self, fail_on_part: int | None = None) -> None:
        self.parts: list[bytes] = []
        self.completed: bytes | None = None
        self.aborted = 0
        self.fail_on_part = fail_on_part

    def upload_part(self, data: bytes) -> None:
        if self.fail_on_part is not None and len(self.parts) + 1 == self.fail_on_part:
            raise ConnectionError("network down")
        self.parts.append(data)

    def complete(self, last: bytes) -> None:
        self.completed = last

    def abort(self) -> None:
        self.aborted += 1


def test_writer_sends_whole_parts_and_the_rest_at_commit() -> None:
    upload = RecordingUpload()
    with BucketWriter(upload, part_size=10, max_parts=None, name="t") as writer:
        writer.write(b"abc")
        writer.write(memoryview(b"defghijklmnopqrstuvw"))  # crosses two part boundaries
        writer.write(bytearray(b"xyz"))
        assert writer.tell() == 26
    assert upload.parts == [b"abcdefghij", b"klmnopqrst"]
    assert upload.completed == b"uvwxyz"
    assert upload.aborted == 0
    assert writer.state == "committed"


def test_writer_grows_parts_to_stay_under_the_part_limit() -> None:
    upload = RecordingUpload()
    with BucketWriter(upload, part_size=4, max_parts=20, name="t") as writer:  # doubles every 2 parts
        writer.write(b"x" * 100)
    assert [len(part) for part in upload.parts] == [4, 4, 8, 8, 16, 16, 32]
    assert upload.completed == b"x" * 12


def test_writer_aborts_on_an_exception_and_never_commits() -> None:
    upload = RecordingUpload()
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="t")

    def fail_inside() -> None:
        with writer:
            writer.write(b"123456789")
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert upload.completed is None
    assert upload.aborted == 1
    assert writer.state == "aborted"


def test_a_failed_part_cannot_be_committed_even_if_the_caller_swallows_it() -> None:
    upload = RecordingUpload(fail_on_part=2)
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="s3://b/k")

    def swallow_the_error() -> None:
        with writer, contextlib.suppress(ConnectionError):  # a careless caller carries on
            writer.write(b"0123456789")

    with pytest.raises(BucketError, match="earlier part failed"):
        swallow_the_error()
    assert upload.completed is None
    assert upload.aborted == 1


def test_close_from_a_wrapper_does_not_decide_the_outcome() -> None:
    ok = RecordingUpload()
    with BucketWriter(ok, part_size=64, max_parts=None, name="t") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        text.write("héllo\n")
        text.close()  # closes raw too; still not committed
        assert ok.completed is None
    assert ok.completed == "héllo\n".encode()

    failed = RecordingUpload()

    def fail_through_a_wrapper() -> None:
        raw = BucketWriter(failed, part_size=64, max_parts=None, name="t")
        with raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
            text.write("partial")
            raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        fail_through_a_wrapper()
    assert failed.completed is None
    assert failed.aborted == 1


def test_a_dropped_writer_is_aborted_not_committed() -> None:
    upload = RecordingUpload()
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="t")
    writer.write(b"123456")
    del writer
    gc.collect()
    assert upload.completed is None
    assert upload.aborted == 1


def test_writes_after_the_outcome_are_refused() -> None:
    writer = BucketWriter(RecordingUpload(), part_size=4, max_parts=None, name="t")
    writer.commit()
    writer.commit()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")
