"""Reading manifests and label files from buckets by object URI, for operators, sensor and trigger.

An object URI is a bucket URI whose last path segment is the object's name:
``s3://bucket/ango/manifests/2024-05-01/assets-00000.ndjson``,
``wasb://container@account/path/file.ndjson``. The manifest arguments of the operators take
the build operator's XCom (a dict with ``manifests``), one URI, or a list of URIs.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from pydantic import ValidationError

from airflow_provider_ango.exceptions import (
    AngoConfigError,
    AngoInputNotFoundError,
    BucketObjectNotFoundError,
)
from airflow_provider_ango.hooks.bucket import BucketHook, BucketUriError
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.scope import ManifestScope, ScopeCollector
from airflow_provider_ango.models.imports import AngoImportItem

#: What each kind of input is, and how to get it back, for the error of a file that is not there.
MISSING_FIXES = {
    "manifest shard": (
        "the build task of this run did not write it, or it was deleted since: clear the build task with "
        "its downstream tasks, or pass the URIs the build task returned"
    ),
    "label file": "check the URI (a folder ends with '/'), or write the predictions there first",
}


def split_object_uri(uri: str) -> tuple[str, str]:
    """``(root URI, key)``: ``s3://b/a/m.ndjson`` -> ``("s3://b/a/", "m.ndjson")``."""
    scheme, sep, rest = uri.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or not slash or not path or path.endswith("/"):
        raise BucketUriError(
            f"{uri!r} does not name an object: expected <scheme>://<bucket>/<path>/<name>, "
            "e.g. s3://my-bucket/ango/manifests/assets.ndjson"
        )
    folder, _, name = path.rpartition("/")
    root = f"{scheme}://{authority}/{folder + '/' if folder else ''}"
    return root, name


def manifest_uris(value: Any) -> list[str]:
    """The shard URIs from the build operator's XCom, one URI, a list, or their rendered text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            # A template rendered without native types: "['s3://...']" or "{'manifests': [...]}".
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                try:
                    value = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise AngoConfigError(
                        f"manifest {text[:200]!r} is neither a URI nor a list of URIs; pass the build task's "
                        "output (manifest=build.output)"
                    ) from None
        else:
            return [text]
    if isinstance(value, Mapping):
        if "manifests" not in value:
            raise AngoConfigError(
                "manifest mapping has no 'manifests' key; pass the build operator's output "
                "(e.g. manifest=build.output) or a list of manifest URIs"
            )
        value = value["manifests"]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        uris = [str(uri) for uri in value]
        for uri in uris:
            split_object_uri(uri)
        return uris
    raise AngoConfigError(
        f"manifest must be a URI, a list of URIs or the build XCom, got {type(value).__name__}; pass "
        "manifest=build.output"
    )


class BucketFiles:
    """Opens object URIs through one BucketHook per root (so each connection is made once)."""

    def __init__(self, conn_id: str | None = None) -> None:
        self.conn_id = conn_id
        self._hooks: dict[str, BucketHook] = {}

    def hook_for(self, uri: str) -> tuple[BucketHook, str]:
        root, key = split_object_uri(uri)
        hook = self._hooks.get(root)
        if hook is None:
            hook = self._hooks[root] = BucketHook.from_uri(root, self.conn_id)
        return hook, key

    @contextmanager
    def open(self, uri: str, what: str = "manifest shard") -> Iterator[io.BufferedReader]:
        """Read one object; a missing one raises :class:`AngoInputNotFoundError` naming it and the fix."""
        hook, key = self.hook_for(uri)
        try:
            stream = hook.open_read(key)
        except BucketObjectNotFoundError:
            raise AngoInputNotFoundError(
                f"{what} {uri} does not exist (connection {hook.conn_id!r}): {MISSING_FIXES.get(what, '')}"
            ) from None
        with stream:
            yield stream

    def lines(self, uris: Sequence[str]) -> Iterator[tuple[str, int, bytes]]:
        """``(uri, line number, line)`` of every non-blank line of every file, streamed."""
        for uri in uris:
            with self.open(uri) as stream:
                for number, raw in enumerate(stream, start=1):
                    line = raw.rstrip(b"\r\n")
                    if line.strip():
                        yield uri, number, line

    def require(self, uris: Sequence[str], what: str) -> None:
        """Every URI names an object that exists (one request each), else the error naming it."""
        for uri in uris:
            hook, key = self.hook_for(uri)
            if not hook.exists(key):
                fix = MISSING_FIXES.get(what, "")
                raise AngoInputNotFoundError(
                    f"{what} {uri} does not exist (connection {hook.conn_id!r}): {fix}"
                )

    def expand(self, uris: Sequence[str], suffixes: tuple[str, ...]) -> list[str]:
        """URIs ending in ``/`` become the files under them with one of ``suffixes`` (sorted)."""
        result: list[str] = []
        for uri in uris:
            if not uri.endswith("/"):
                result.append(uri)
                continue
            hook = BucketHook.from_uri(uri, self.conn_id)
            found = sorted(
                hook.uri_for(obj.key) for obj in hook.iter_objects() if obj.key.lower().endswith(suffixes)
            )
            if not found:
                raise AngoInputNotFoundError(
                    f"no {'/'.join(suffixes)} files under {uri} (connection {hook.conn_id!r}): check the "
                    "folder, or write the files there first"
                )
            result.extend(found)
        return result


def valid_items(files: BucketFiles, uris: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The valid items of a manifest, streamed (an invalid line is never imported: it is skipped)."""
    for _uri, _number, line in files.lines(uris):
        try:
            raw = orjson.loads(line)
            AngoImportItem.model_validate(raw)
        except (orjson.JSONDecodeError, ValidationError):
            continue
        yield raw


def manifest_fingerprints(files: BucketFiles, uris: Sequence[str]) -> FingerprintSet:
    """The externalIds of the valid items of a manifest, as fingerprints (frozen)."""
    return manifest_scope(files, uris).ids


def manifest_scope(files: BucketFiles, uris: Sequence[str]) -> ManifestScope:
    """The valid items' externalIds (fingerprints) and the scope batches they carry."""
    ids = FingerprintSet()
    scopes = ScopeCollector()
    for raw in valid_items(files, uris):
        ids.add(raw["externalId"])
        scopes.add(raw.get("batches"))
    return scopes.scope(ids)


def missing_external_ids(
    files: BucketFiles, uris: Sequence[str], is_missing: Callable[[str], bool], limit: int
) -> list[str]:
    """The first ``limit`` externalIds of the manifest for which ``is_missing`` holds, each once."""
    found: dict[str, None] = {}
    for raw in valid_items(files, uris):
        external_id = raw["externalId"]
        if external_id not in found and is_missing(external_id):
            found[external_id] = None
            if len(found) >= limit:
                break
    return list(found)


__all__ = [
    "BucketFiles",
    "manifest_fingerprints",
    "manifest_scope",
    "manifest_uris",
    "missing_external_ids",
    "split_object_uri",
    "valid_items",
]
