"""The list of files one landing writes, kept on disk (SQLite) so memory stays flat.

A ``split`` landing of a million assets writes a million files; their names, sizes and
checksums must be known at the end (to publish them, to find stale files and to write the
manifest) without a million-entry dict in the worker. SQLite from the standard library
keeps them in a temporary file and answers "was this name written?" by index.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson


@dataclass(frozen=True)
class FileEntry:
    """One landed file; ``name`` is relative to the destination prefix."""

    name: str
    records: int | None
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "records": self.records, "bytes": self.bytes, "sha256": self.sha256}


class FileRegistry:
    """Names claimed and files written by one landing (a temporary SQLite database)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="ango-landing-", dir=directory)
        self._db = sqlite3.connect(Path(self._directory.name) / "files.db")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE files (seq INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
            "records INTEGER, bytes INTEGER, sha256 TEXT)"
        )
        self.files = 0
        self.records = 0
        self.bytes = 0

    def claim(self, name: str) -> bool:
        """Reserve ``name``; False when this landing already used it."""
        try:
            self._db.execute("INSERT INTO files (name) VALUES (?)", (name,))
        except sqlite3.IntegrityError:
            return False
        return True

    def record(self, entry: FileEntry) -> None:
        """Store a written file (its name claimed before, or now)."""
        self._db.execute(
            "INSERT INTO files (name, records, bytes, sha256) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET records=excluded.records, bytes=excluded.bytes, "
            "sha256=excluded.sha256",
            (entry.name, entry.records, entry.bytes, entry.sha256),
        )
        self.files += 1
        self.records += entry.records or 0
        self.bytes += entry.bytes

    def __contains__(self, name: object) -> bool:
        row = self._db.execute("SELECT 1 FROM files WHERE name = ? AND sha256 IS NOT NULL", (name,))
        return row.fetchone() is not None

    def __iter__(self) -> Iterator[FileEntry]:
        cursor = self._db.execute(
            "SELECT name, records, bytes, sha256 FROM files WHERE sha256 IS NOT NULL ORDER BY seq"
        )
        for name, records, size, digest in cursor:
            yield FileEntry(name, records, size, digest)

    def write_manifest(self, path: Path, header: dict[str, Any]) -> None:
        """``header`` plus the totals and a ``files`` list, streamed into ``path``."""
        summary = {**header, "records": self.records, "files_count": self.files, "bytes": self.bytes}
        with path.open("wb") as out:
            out.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2)[:-2])  # reopen the object
            out.write(b',\n  "files": [')
            for index, entry in enumerate(self):
                out.write(b"\n    " if index == 0 else b",\n    ")
                out.write(orjson.dumps(entry.to_json()))
            out.write(b"\n  ]\n}\n" if self.files else b"]\n}\n")

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def __enter__(self) -> FileRegistry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["FileEntry", "FileRegistry"]
