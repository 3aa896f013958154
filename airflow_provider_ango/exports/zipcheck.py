"""Check that a streamed zip is whole, from its first bytes and its last megabytes only.

While the export streams into the bucket, :class:`ZipTail` keeps the first 4 bytes and a
rolling window of the last :data:`TAIL_BYTES`. At the end, :func:`check_zip_tail` reads the
end-of-central-directory record and the central directory through :mod:`zipfile` (from the
window, as if from the whole file) and checks that every member's data lies before the
central directory. A download cut short, or one that kept an HTML error page, fails here
before anything is published.
"""

from __future__ import annotations

import io
import zipfile

from airflow_provider_ango.exceptions import AngoExportIntegrityError

TAIL_BYTES = 4 * 1024 * 1024
_LOCAL_HEADER = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"


class _OutsideWindowError(Exception):
    pass


class ZipTail:
    """Collects the head and a rolling tail of a byte stream."""

    def __init__(self, keep: int = TAIL_BYTES) -> None:
        self._keep = keep
        self.head = b""
        self._tail = bytearray()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < 4:
            self.head = (self.head + chunk[:4])[:4]
        self.size += len(chunk)
        if len(chunk) >= self._keep:
            self._tail[:] = chunk[-self._keep :]
        else:
            self._tail += chunk
            overflow = len(self._tail) - self._keep
            if overflow > 0:
                del self._tail[:overflow]

    @property
    def tail(self) -> bytes:
        return bytes(self._tail)


class _TailFile(io.RawIOBase):
    """A read-only file of ``size`` bytes of which only the last ``len(tail)`` are known."""

    def __init__(self, size: int, tail: bytes) -> None:
        self._size = size
        self._tail = tail
        self._tail_start = size - len(tail)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._position >= self._size:
            return 0
        if self._position < self._tail_start:
            raise _OutsideWindowError
        start = self._position - self._tail_start
        data = self._tail[start : start + len(buffer)]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def check_zip_tail(collected: ZipTail, what: str) -> list[zipfile.ZipInfo]:
    """The members listed in the central directory; raises if the zip is not whole."""
    if collected.size == 0:
        raise AngoExportIntegrityError(f"{what} is empty (0 bytes); expected an export zip")
    if collected.head not in (_LOCAL_HEADER, _EMPTY_ZIP):
        raise AngoExportIntegrityError(
            f"{what} does not start like a zip (first bytes {collected.head!r}); "
            "the download may have returned an error page"
        )
    try:
        with zipfile.ZipFile(_TailFile(collected.size, collected.tail)) as archive:
            members = archive.infolist()
            directory_start = archive.start_dir
    except _OutsideWindowError:
        raise AngoExportIntegrityError(
            f"{what}: the zip's central directory is larger than {TAIL_BYTES} bytes; "
            "an Ango export holds one file, is this one?"
        ) from None
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise AngoExportIntegrityError(
            f"{what} ({collected.size} bytes) is not a complete zip ({error}); the download was cut short "
            "or corrupted - it will be requested again on retry"
        ) from error
    for info in members:
        if info.header_offset + info.compress_size > directory_start:
            raise AngoExportIntegrityError(
                f"{what}: member {info.filename!r} runs past the central directory; the zip is corrupt"
            )
    return members


__all__ = ["TAIL_BYTES", "ZipTail", "check_zip_tail"]
