"""Where a manifest comes from, written beside it, and checked before it is imported.

The build writes ``<base>.provenance.json`` after its shards (and errors file) are published::

    {"kind": "ango-import-manifest", "version": 1, "build": "<token>", "created_at": "...",
     "project_id": "...", "source_uri": "s3://...", "window": {"start", "end"},
     "dag_id": "...", "run_id": "...", "task_id": "...",
     "shards": [{"name": "assets-00000.ndjson", "rows": n, "bytes": n, "sha256": "..."}],
     "errors": "assets.errors.ndjson" | null, "invalid": n}

Why a sidecar with digests, rather than a header line: the shards stay plain NDJSON of import
items (any reader, Ango's own uploader included, takes them as they are), and the sidecar is still
bound to them: the import hashes each shard while it reads it anyway, and a shard whose SHA-256
is not the one its sidecar lists was written by another build (one that crashed before writing
its own sidecar, or one that is still writing). So the pair is atomic for the reader: either the
shards are the ones the provenance describes, or the import refuses them.

The import refuses a manifest whose provenance names another project than the one it imports
into, or another run of the same DAG (a second run of the same day that overwrote the key, a
cleared task of an earlier run reading a later run's files). A manifest without a sidecar (written
by the user's own code) is accepted as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson

from airflow_provider_ango.exceptions import AngoManifestProvenanceError

KIND = "ango-import-manifest"
VERSION = 1
PROVENANCE_SUFFIX = ".provenance.json"
_SHARD_NAME = re.compile(r"^(?P<base>.+)-\d{5}\.ndjson$")


class _Store(Protocol):
    def open_write(self, key: str) -> Any: ...

    def publish(self, tmp_key: str, final_key: str) -> None: ...


@dataclass(frozen=True)
class ShardDigest:
    """One published file of a manifest: its key, rows, bytes and SHA-256."""

    key: str
    rows: int
    bytes: int
    sha256: str


def provenance_key(base: str) -> str:
    return f"{base}{PROVENANCE_SUFFIX}"


def shard_base(key: str) -> str | None:
    """``<base>`` of a shard key ``<base>-00000.ndjson``; None for a file named otherwise."""
    match = _SHARD_NAME.match(key)
    return match.group("base") if match else None


def _name(key: str) -> str:
    return key.rpartition("/")[2]


def write_provenance(
    store: _Store,
    base: str,
    provenance: dict[str, Any],
    shards: list[ShardDigest],
    errors_key: str | None,
    invalid: int,
) -> str:
    """Publish ``<base>.provenance.json`` (through a temporary key); returns its key."""
    document = {
        "kind": KIND,
        "version": VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **provenance,
        "shards": [
            {"name": _name(shard.key), "rows": shard.rows, "bytes": shard.bytes, "sha256": shard.sha256}
            for shard in shards
        ],
        "errors": _name(errors_key) if errors_key else None,
        "invalid": invalid,
    }
    key = provenance_key(base)
    temporary = f"{key}.tmp-{provenance.get('build', 'x')}"
    with store.open_write(temporary) as out:
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    store.publish(temporary, key)
    return key


def parse_provenance(raw: bytes, where: str) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise AngoManifestProvenanceError(
            f"{where} is not JSON ({error}); it should be the provenance the build wrote. Re-run the "
            "build task, or delete the file if the manifest is your own"
        ) from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise AngoManifestProvenanceError(
            f"{where} is not an Ango import manifest's provenance (no kind {KIND!r}); re-run the build task, "
            "or delete the file if the manifest is your own"
        )
    return document


def describe(document: dict[str, Any]) -> str:
    """``run R of DAG D (task T), project P, window W, source S`` for messages."""
    window = document.get("window") or {}
    return (
        f"run {document.get('run_id')!r} of DAG {document.get('dag_id')!r} "
        f"(task {document.get('task_id')!r}, at {document.get('created_at')}), "
        f"for project {document.get('project_id')!r}, files of "
        f"{document.get('source_uri')} modified in [{window.get('start')}, {window.get('end')})"
    )


def check_owner(
    document: dict[str, Any], where: str, *, project_id: str, dag_id: str | None, run_id: str | None
) -> None:
    """Refuse a manifest of another project, or of another run of the same DAG, naming both."""
    built_for = document.get("project_id")
    if built_for and built_for != project_id:
        raise AngoManifestProvenanceError(
            f"the manifest at {where} was built for project {built_for!r}, not {project_id!r} (it was "
            f"written by {describe(document)}); nothing was imported. Point the import at the manifest of "
            "this project (the build task's output), or build one for it"
        )
    if dag_id and run_id and document.get("dag_id") == dag_id and document.get("run_id") != run_id:
        raise AngoManifestProvenanceError(
            f"the manifest at {where} belongs to run {document.get('run_id')!r} of DAG {dag_id!r}, and this "
            f"is run {run_id!r} (it was written by {describe(document)}); nothing was imported. Another run "
            "wrote to the same manifest key: give each run its own key (put {{ run_id }} in manifest_uri), "
            "then clear this run's build task with its downstream tasks"
        )


def check_shard(document: dict[str, Any], where: str, uri: str, name: str, sha256: str, rows: int) -> None:
    """Refuse a shard that is not the one the provenance lists (another build rewrote it)."""
    listed = {
        str(shard.get("name")): shard for shard in document.get("shards") or [] if isinstance(shard, dict)
    }
    entry = listed.get(name)
    if entry is None:
        raise AngoManifestProvenanceError(
            f"{uri} is not one of the shards the provenance {where} lists "
            f"({', '.join(sorted(listed)) or 'none'}; written by {describe(document)}); another build wrote "
            "it. Clear the build task of this run "
            "with its downstream tasks"
        )
    if entry.get("sha256") != sha256:
        raise AngoManifestProvenanceError(
            f"{uri} ({rows} line(s)) is not the shard the provenance {where} describes ({entry.get('rows')} "
            f"line(s), written by {describe(document)}): another build rewrote it since. Give each run its "
            "own manifest key ({{ run_id }} in manifest_uri), then clear the build task of this run with its "
            "downstream tasks"
        )


__all__ = [
    "KIND",
    "PROVENANCE_SUFFIX",
    "ShardDigest",
    "check_owner",
    "check_shard",
    "describe",
    "parse_provenance",
    "provenance_key",
    "shard_base",
    "write_provenance",
]
