"""Import manifests: NDJSON shards written through temp keys, published together at the end.

Naming, for a manifest URI ``<base>.ndjson`` (``.ndjson`` is added when missing):

* shards ``<base>-00000.ndjson``, ``<base>-00001.ndjson``, ... (a new shard starts past
  ``max_bytes`` or ``max_rows``; there is always at least shard 0, possibly empty);
* invalid items ``<base>.errors.ndjson``, one ``{"key", "externalId", "type", "reason"}`` per
  line (only when there are any; a stale one from an earlier attempt is removed);
* its provenance ``<base>.provenance.json`` (:mod:`.provenance`), written last.

Every file is first written under ``<final>.tmp-<token>`` and only moved to its final key
(``publish``) after all of them were written completely, so a retry or a reader never sees
half a manifest; shards left over from an earlier, longer attempt are deleted.

Strict by default (``on_invalid="fail"``): when any item is invalid no shard is published, only
the errors file, and :class:`~airflow_provider_ango.exceptions.AngoManifestError` names the first
ones with their reason and fix. ``on_invalid="skip"`` publishes the valid items and reports the
others in the errors file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from airflow_provider_ango.exceptions import AngoConfigError, AngoManifestError
from airflow_provider_ango.imports.builder import BuildRecord
from airflow_provider_ango.imports.provenance import ShardDigest, write_provenance
from airflow_provider_ango.progress import LogLike, Progress

OnInvalid = Literal["fail", "skip"]
ON_INVALID = ("fail", "skip")
MAX_NAMED_INVALID = 20

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


def check_on_invalid(value: str) -> OnInvalid:
    """``on_invalid`` as given, or an :class:`AngoConfigError` naming the two choices."""
    if value not in ON_INVALID:
        raise AngoConfigError(
            f"on_invalid={value!r} is not one of 'fail' (refuse the whole input when any item is bad, the "
            "default) or 'skip' (go on with the valid items and report the others)"
        )
    return value  # type: ignore[return-value]


@dataclass
class _OpenFile:
    final_key: str
    tmp_key: str
    context: AbstractContextManager[Any]
    stream: Any
    rows: int = 0
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256)

    def summary(self) -> ShardDigest:
        return ShardDigest(self.final_key, self.rows, self.size, self.digest.hexdigest())


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
        current.digest.update(record)
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

    @property
    def digests(self) -> list[ShardDigest]:
        """Rows, bytes and SHA-256 of every file written so far (closed ones)."""
        return [done.summary() for done in self._closed]

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
    provenance_key: str | None = None


def _invalid_line(record: BuildRecord) -> str:
    payload = record.payload
    named = f" (externalId {payload['externalId']!r})" if payload.get("externalId") else ""
    return f"{payload['key']}{named}: {payload['reason']}"


def write_manifest(
    records: Iterable[BuildRecord],
    store: WritableStore,
    base: str,
    *,
    max_bytes: int | None,
    max_rows: int | None,
    log: LogLike,
    on_invalid: OnInvalid = "skip",
    provenance: dict[str, Any] | None = None,
    describe: Callable[[str], str] = str,
) -> WrittenManifest:
    """Items to the shards and invalid ones to the errors file, all published at the end.

    On any failure nothing is published and the temp files are removed. Afterwards shards and an
    errors file left by an earlier, different attempt are deleted, and ``provenance`` (when given)
    is written last, with the digest of every shard. With ``on_invalid="fail"`` an invalid item
    publishes the errors file alone and raises :class:`AngoManifestError` (``describe`` turns a key
    into the URI the message shows).
    """
    shards = NdjsonSink(store, lambda index: shard_key(base, index), max_bytes=max_bytes, max_rows=max_rows)
    errors = NdjsonSink(store, lambda _index: errors_key(base))
    progress = Progress(log, "Manifest items", None, unit="items")
    invalid = 0
    named: list[str] = []
    try:
        for record in records:
            if record.ok:
                shards.write(record.to_line())
                progress.advance(1)
                continue
            errors.write(record.to_line())
            invalid += 1
            if len(named) < MAX_NAMED_INVALID:
                named.append(_invalid_line(record))
            if invalid <= 10:
                log.warning("Invalid item for %s: %s", record.payload["key"], record.payload["reason"])
        if invalid and on_invalid == "fail":
            shards.abort()
            error_keys = errors.finish(at_least_one=False)
            more = f"\n  ... and {invalid - len(named)} more" if invalid > len(named) else ""
            raise AngoManifestError(
                f"{invalid} of {invalid + shards.rows} file(s) cannot become Ango assets; no manifest was "
                f"published (the reasons are in {describe(error_keys[0])}):\n  "
                + "\n  ".join(named)
                + more
                + "\nFix or remove these files (or narrow include/exclude/asset_types), or pass "
                "on_invalid='skip' to import the others and keep these in the errors file"
            )
        shard_keys = shards.finish(at_least_one=True)
        error_keys = errors.finish(at_least_one=False)
    except AngoManifestError:
        raise
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
    written_provenance = None
    if provenance is not None:
        written_provenance = write_provenance(
            store, base, provenance, shards.digests, error_keys[0] if error_keys else None, invalid
        )
    return WrittenManifest(
        shard_keys, error_keys[0] if error_keys else None, shards.rows, invalid, written_provenance
    )


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "ON_INVALID",
    "NdjsonSink",
    "OnInvalid",
    "WritableStore",
    "WrittenManifest",
    "check_on_invalid",
    "delete_stale_shards",
    "errors_key",
    "manifest_base",
    "shard_key",
    "write_manifest",
]
