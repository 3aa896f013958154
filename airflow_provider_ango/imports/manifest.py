"""Import manifests: NDJSON shards written through temp keys, published together at the end.

Naming, for a manifest URI ``<base>.ndjson`` (``.ndjson`` is added when missing):

* shards ``<base>-00000.ndjson``, ``<base>-00001.ndjson``, ... (a new shard starts past
  ``max_bytes`` or ``max_rows``; there is always at least shard 0, possibly empty);
* invalid items ``<base>.errors.ndjson``, one ``{"key", "externalId", "type", "reason"}`` per
  line (only when there are any; a stale one from an earlier attempt is removed).

Every file is first written under ``<final>.tmp-<token>`` and only moved to its final key
(``publish``) after all of them were written completely, so a retry or a reader never sees
half a manifest; shards left over from an earlier, longer attempt are deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_ango.imports.builder import BuildRecord
from airflow_provider_ango.progress import LogLike, Progress

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_ROWS = 500_000
SUFFIX = ".ndjson"


class WritableStore(Protocol):
    """The part of BucketHook the manifest writer uses (keys relative to the hook's root)."""

    def open_write(self, key: str) -> Any: ...

    def publish(self, tmp_key: str, final_key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


def manifest_base(key: str) -> str:
    return key[: -len(SUFFIX)] if key.endswith(SUFFIX) else key


def shard_key(base: str, index: int) -> str:
    return f"{base}-{index:05d}{SUFFIX}"


def errors_key(base: str) -> str:
    return f"{base}.errors{SUFFIX}"


@dataclass
class _OpenFile:
    final_key: str
    tmp_key: str
    context: AbstractContextManager[Any]
    stream: Any
    rows: int = 0
    size: int = 0


class NdjsonSink:
    """Lines into one or more files under temp keys; :meth:`finish` publishes, :meth:`abort` cleans."""

    def __init__(
        self,
        store: WritableStore,
        key_of: Callable[[int], str],
        *,
        max_bytes: int | None = None,
        max_rows: int | None = None,
        token: str | None = None,
    ) -> None:
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_manifest_bytes must be >= 1")
        if max_rows is not None and max_rows < 1:
            raise ValueError("max_manifest_rows must be >= 1")
        self.store = store
        self.key_of = key_of
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.token = token or uuid.uuid4().hex[:12]
        self.rows = 0
        self._closed: list[_OpenFile] = []
        self._current: _OpenFile | None = None

    def _open(self) -> _OpenFile:
        final_key = self.key_of(len(self._closed))
        tmp_key = f"{final_key}.tmp-{self.token}"
        context = self.store.open_write(tmp_key)
        stream = context.__enter__()
        self._current = _OpenFile(final_key, tmp_key, context, stream)
        return self._current

    def _close_current(self) -> None:
        current = self._current
        if current is not None:
            self._current = None
            current.context.__exit__(None, None, None)  # commits the object at the temp key
            self._closed.append(current)

    def write(self, line: bytes) -> None:
        record = line + b"\n"
        current = self._current
        if (
            current is not None
            and current.rows
            and (
                (self.max_rows is not None and current.rows >= self.max_rows)
                or (self.max_bytes is not None and current.size + len(record) > self.max_bytes)
            )
        ):
            self._close_current()
            current = None
        if current is None:
            current = self._open()
        current.stream.write(record)
        current.rows += 1
        current.size += len(record)
        self.rows += 1

    def finish(self, *, at_least_one: bool) -> list[str]:
        """Close, then publish every file to its final key; returns the final keys in order."""
        if self._current is None and not self._closed and at_least_one:
            self._open()
        self._close_current()
        for done in self._closed:
            self.store.publish(done.tmp_key, done.final_key)
        return [done.final_key for done in self._closed]

    def abort(self) -> None:
        """Drop the open file (nothing is committed) and delete the temp files already written."""
        current, self._current = self._current, None
        if current is not None:
            error = RuntimeError("manifest build failed")
            current.context.__exit__(type(error), error, None)
        for done in self._closed:
            self.store.delete(done.tmp_key)
        self._closed.clear()


def delete_stale_shards(store: WritableStore, base: str, first_unused: int, limit: int = 100_000) -> int:
    """Delete ``<base>-NNNNN.ndjson`` from ``first_unused`` on, while they exist (earlier attempts)."""
    deleted = 0
    for index in range(first_unused, first_unused + limit):
        key = shard_key(base, index)
        if not store.exists(key):
            break
        store.delete(key)
        deleted += 1
    return deleted


@dataclass(frozen=True)
class WrittenManifest:
    shard_keys: list[str]
    errors_key: str | None
    items: int
    invalid: int


def write_manifest(
    records: Iterable[BuildRecord],
    store: WritableStore,
    base: str,
    *,
    max_bytes: int | None,
    max_rows: int | None,
    log: LogLike,
) -> WrittenManifest:
    """Items to the shards and invalid ones to the errors file, all published at the end.

    On any failure nothing is published and the temp files are removed. Afterwards shards and an
    errors file left by an earlier, different attempt are deleted.
    """
    shards = NdjsonSink(store, lambda index: shard_key(base, index), max_bytes=max_bytes, max_rows=max_rows)
    errors = NdjsonSink(store, lambda _index: errors_key(base))
    progress = Progress(log, "Manifest items", None, unit="items")
    invalid = 0
    try:
        for record in records:
            if record.ok:
                shards.write(record.to_line())
                progress.advance(1)
                continue
            errors.write(record.to_line())
            invalid += 1
            if invalid <= 10:
                log.warning("Invalid item for %s: %s", record.payload["key"], record.payload["reason"])
        shard_keys = shards.finish(at_least_one=True)
        error_keys = errors.finish(at_least_one=False)
    except BaseException:
        shards.abort()
        errors.abort()
        raise
    stale = delete_stale_shards(store, base, len(shard_keys))
    if not error_keys and store.exists(errors_key(base)):
        store.delete(errors_key(base))
        stale += 1
    if stale:
        log.info("Removed %d file(s) left by an earlier attempt", stale)
    return WrittenManifest(shard_keys, error_keys[0] if error_keys else None, shards.rows, invalid)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "NdjsonSink",
    "WritableStore",
    "WrittenManifest",
    "delete_stale_shards",
    "errors_key",
    "manifest_base",
    "shard_key",
    "write_manifest",
]
