"""Streams over a store: a reader over ranged chunks, a writer that sends one part at a time.

Memory is bounded by one chunk (reads) or one part (writes), whatever the object's size.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Literal

from airflow_provider_ango.hooks.bucket.base import BucketError, Upload

log = logging.getLogger(__name__)

#: Parts never grow past this (S3 allows 5 GiB, Azure 4000 MiB per block).
MAX_PART_SIZE = 4000 * 1024 * 1024


class ChunkReader(io.RawIOBase):
    """A raw binary stream over an iterator of byte chunks; closing it releases the connection."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read from a closed bucket object stream")
        while not self._pending:
            self._pending = memoryview(b"")  # an empty slice would keep the spent chunk alive
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def readall(self) -> bytes:
        """The rest of the stream in one join (the default would go 8 KiB at a time)."""
        if self.closed:
            raise ValueError("read from a closed bucket object stream")
        parts = [bytes(self._pending)]
        self._pending = memoryview(b"")
        parts.extend(self._chunks)
        return b"".join(parts)

    def close(self) -> None:
        if not self.closed:
            self._pending = memoryview(b"")
            closer = getattr(self._chunks, "close", None)
            try:
                if closer is not None:
                    closer()
            finally:
                super().close()


def ranged_chunks(
    read: Callable[[int, int], bytes], start: int, stop: int, chunk_size: int, name: str
) -> Iterator[bytes]:
    """Bytes ``[start, stop)`` as chunks of at most ``chunk_size``, one ranged read ``read(a, b)`` each.

    For stores whose SDK reads a range into memory (GCS, Azure): memory stays at one chunk, and an
    object that ends before ``stop`` (it shrank meanwhile) is an error naming it, never a silent cut.
    """
    position = start
    while position < stop:
        data = read(position, min(position + chunk_size, stop))
        if not data:
            raise BucketError(f"{name} ended early at byte {position} of {stop}")
        size = len(data)
        yield data
        del data  # do not hold this chunk while the next one downloads
        position += size


WriterState = Literal["open", "failed", "committed", "aborted"]


class BucketWriter(io.RawIOBase):
    """A writable binary stream that uploads ``part_size`` bytes at a time.

    Use it as a context manager: a clean exit commits (the object appears at its key, whole), an
    exception aborts (nothing appears; a previous object at the key stays untouched). Without
    ``with``, call :meth:`commit` or :meth:`abort` yourself. ``close()`` only ends writing, so
    wrappers that close their stream (``io.TextIOWrapper``, ``gzip.GzipFile``...) can sit inside the
    ``with``: the outcome is still decided by how the ``with`` exits. A writer dropped without
    either is aborted when it is garbage-collected; a partial object is never committed.

    Every ``max_parts // 10`` parts the part size doubles (up to 4000 MiB), so stores with a part
    limit (S3: 10,000 parts; Azure: 50,000 blocks) take objects of many terabytes, while memory
    stays at one part (8 MiB by default) for the first ``max_parts // 10 * part_size`` bytes.
    """

    def __init__(self, upload: Upload, *, part_size: int, max_parts: int | None, name: str) -> None:
        super().__init__()
        if part_size <= 0:
            raise ValueError(f"part_size must be positive, got {part_size}")
        self.name = name
        self._upload = upload
        self._part_size = part_size
        self._grow_every = max(1, max_parts // 10) if max_parts else 0
        self._buffer = bytearray()
        self._parts = 0
        self._written = 0
        self.state: WriterState = "open"

    @property
    def bytes_written(self) -> int:
        return self._written

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        if self.closed or self.state != "open":
            raise ValueError(f"write to {self.name} after the stream was closed ({self.state})")
        view = memoryview(data).cast("B")
        count = len(view)
        while view:
            room = self._part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= self._part_size:
                self._send_part()
        self._written += count
        return count

    def _send_part(self) -> None:
        part = bytes(self._buffer)
        self._buffer.clear()
        try:
            self._upload.upload_part(part)
        except BaseException:
            self.state = "failed"
            raise
        self._parts += 1
        if self._grow_every and self._parts % self._grow_every == 0:
            self._part_size = min(self._part_size * 2, MAX_PART_SIZE)

    def close(self) -> None:
        """End writing; :meth:`commit` or :meth:`abort` (or the ``with`` exit) decides the outcome."""
        super().close()

    def commit(self) -> None:
        """Make the object appear at its key with everything written. Idempotent once committed."""
        if self.state == "committed":
            return
        if self.state != "open":
            self.abort()
            raise BucketError(f"{self.name} was not written: an earlier part failed ({self.state})")
        try:
            self._upload.complete(bytes(self._buffer))
        except BaseException:
            self.state = "failed"
            self.abort()
            raise
        self.state = "committed"
        self._buffer = bytearray()
        super().close()

    def abort(self) -> None:
        """Drop everything written; nothing appears at the key. Safe to call more than once."""
        if self.state in {"committed", "aborted"}:
            return
        self.state = "aborted"
        self._buffer = bytearray()
        try:
            self._upload.abort()
        except Exception as exc:  # cleaning up must not hide the error that caused it
            log.warning("Could not clean up the aborted upload of %s: %s", self.name, type(exc).__name__)
        finally:
            super().close()

    def __enter__(self) -> BucketWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "state", "aborted") in {"open", "failed"}:
            self.abort()
