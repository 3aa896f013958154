"""A manifest checked whole before the import's first call to Ango Hub.

:func:`check_manifest` reads every shard once, streaming, before anything is listed or posted:

* every shard exists (a missing one names its URI and how to get it back);
* the provenance the build wrote beside the shards (:mod:`.provenance`) names this project and,
  for a manifest of the same DAG, this run; and every shard is the one it lists (SHA-256 of the
  bytes read);
* every line is one valid import item. Strict (``on_invalid="fail"``, the default): any bad line
  fails the import naming each (``<uri>:<line>``, the reason, the fix), and nothing is posted.
  ``on_invalid="skip"``: the bad lines are skipped by the import (counted as ``invalid`` in its
  XCom), and their reasons go to ``<base>.import-errors.ndjson`` beside the manifest.

The importer reads the manifest again afterwards (its own two passes); this pass costs one more
read of the shards and no request to Ango.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from airflow_provider_ango.exceptions import AngoManifestError
from airflow_provider_ango.imports.manifest import OnInvalid
from airflow_provider_ango.imports.provenance import (
    check_owner,
    check_shard,
    parse_provenance,
    provenance_key,
    shard_base,
)
from airflow_provider_ango.imports.sources import BucketFiles, split_object_uri
from airflow_provider_ango.models.imports import AngoImportItem, validation_reason
from airflow_provider_ango.progress import LogLike

MAX_NAMED_LINES = 20
IMPORT_ERRORS_SUFFIX = ".import-errors.ndjson"


@dataclass(frozen=True)
class ImportRun:
    """Who imports: the project, and the DAG run (None outside a DAG run)."""

    project_id: str
    dag_id: str | None = None
    run_id: str | None = None


@dataclass
class ManifestCheck:
    """What the check found: line counts, the first bad lines, the provenance and the errors file."""

    lines: int = 0
    invalid: int = 0
    named: list[str] = field(default_factory=list)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors_uri: str | None = None


class _ErrorsFile:
    """``<base>.import-errors.ndjson``, opened at the first bad line (skip mode only), streamed."""

    def __init__(self, files: BucketFiles, first_uri: str, log: LogLike) -> None:
        root, name = split_object_uri(first_uri)
        base = shard_base(name) or name.removesuffix(".ndjson")
        self.uri = f"{root}{base}{IMPORT_ERRORS_SUFFIX}"
        self.files = files
        self.log = log
        self._context: Any = None
        self._stream: Any = None
        self.failed = False

    def write(self, record: dict[str, Any]) -> None:
        if self.failed:
            return
        try:
            if self._context is None:
                hook, key = self.files.hook_for(self.uri)
                self._context = hook.open_write(key)
                self._stream = self._context.__enter__()
            self._stream.write(orjson.dumps(record) + b"\n")
        except Exception as error:  # the report must not stop an import that may go on
            self.failed = True
            self.log.warning(
                "Could not write skipped lines' reasons to %s (%s); see the log", self.uri, error
            )

    def close(self, error: BaseException | None) -> str | None:
        if self._context is None:
            return None
        context, self._context = self._context, None
        if error is not None or self.failed:
            context.__exit__(type(error or RuntimeError), error or RuntimeError("not written"), None)
            return None
        context.__exit__(None, None, None)
        return self.uri


def fix_for(reason: str) -> str:
    """What to change in a bad manifest line, from the reason it was refused."""
    if reason.startswith("not JSON"):
        return "write each item as one JSON object on one line"
    if reason.startswith("an item must be"):
        return 'each line must be a JSON object such as {"data": "https://...", "externalId": "..."}'
    if "externalId" in reason and ("required" in reason.lower() or "spelled" in reason):
        return "give every item a non-empty externalId"
    if reason.startswith("data") or "data URL" in reason:
        return "give data as an absolute, percent-encoded http(s) URL (a space is %20)"
    if "storage" in reason:
        return "use the 24-hex id of a storage integration (AngoHubHook.list_storages)"
    return "correct the field the reason names (see the README's import item format)"


def check_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(item, None)`` for a valid import item, ``(None, reason)`` otherwise."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    if not isinstance(raw, dict):
        return None, f"an item must be a JSON object, got {type(raw).__name__}"
    try:
        AngoImportItem.model_validate(raw)
    except ValidationError as error:
        return None, validation_reason(error)
    return raw, None


def _provenance_for(
    files: BucketFiles, uri: str, found: ManifestCheck, run: ImportRun
) -> tuple[dict[str, Any], str] | None:
    root, name = split_object_uri(uri)
    base = shard_base(name)
    if base is None:
        return None
    where = f"{root}{provenance_key(base)}"
    if where not in found.provenance:
        hook, key = files.hook_for(where)
        if not hook.exists(key):
            found.provenance[where] = {}
        else:
            document = parse_provenance(hook.read_bytes(key), where)
            check_owner(document, where, project_id=run.project_id, dag_id=run.dag_id, run_id=run.run_id)
            found.provenance[where] = document
    document = found.provenance[where]
    return (document, where) if document else None


def check_manifest(
    files: BucketFiles,
    uris: Sequence[str],
    run: ImportRun,
    on_invalid: OnInvalid,
    log: LogLike,
    *,
    report: bool = True,
) -> ManifestCheck:
    """Read every shard once (see the module docstring); raises before any call to Ango.

    :param report: write the errors file in skip mode (a dry run writes nothing, it only logs).
    """
    found = ManifestCheck()
    files.require(uris, "manifest shard")
    errors = _ErrorsFile(files, uris[0], log) if on_invalid == "skip" and uris and report else None
    try:
        for uri in uris:
            _check_shard(files, uri, run, found, errors)
    except BaseException as error:
        if errors is not None:
            errors.close(error)
        raise
    if errors is not None:
        found.errors_uri = errors.close(None)
    if found.invalid and on_invalid == "fail":
        unnamed = found.invalid - len(found.named)
        more = f"\n  ... and {unnamed} more" if unnamed > 0 else ""
        raise AngoManifestError(
            f"{found.invalid} of {found.lines} manifest line(s) are not valid import items; nothing was "
            f"imported into project {run.project_id}:\n  " + "\n  ".join(found.named) + more + "\nFix "
            "these lines (or rebuild the manifest with AngoBuildImportOperator), or pass on_invalid='skip' "
            "to import the valid lines and get the others in an errors file"
        )
    if found.invalid:
        log.warning(
            "%d of %d manifest line(s) are invalid and will be skipped; %s",
            found.invalid,
            found.lines,
            f"their reasons are in {found.errors_uri}"
            if found.errors_uri
            else "the first ones: " + "; ".join(found.named[:5]),
        )
    return found


def _check_shard(
    files: BucketFiles, uri: str, run: ImportRun, found: ManifestCheck, errors: _ErrorsFile | None
) -> None:
    owner = _provenance_for(files, uri, found, run)
    digest = hashlib.sha256()
    rows = 0
    with files.open(uri) as stream:
        for number, raw in enumerate(stream, start=1):
            digest.update(raw)
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            rows += 1
            found.lines += 1
            _item, reason = check_line(line)
            if reason is None:
                continue
            found.invalid += 1
            where = f"{uri}:{number}"
            if len(found.named) < MAX_NAMED_LINES:
                found.named.append(f"{where}: {reason} (fix: {fix_for(reason)})")
            if errors is not None:
                errors.write({"where": where, "reason": reason, "line": line[:300].decode(errors="replace")})
    if owner is not None:
        document, where = owner
        check_shard(document, where, uri, split_object_uri(uri)[1], digest.hexdigest(), rows)


__all__ = ["IMPORT_ERRORS_SUFFIX", "ImportRun", "ManifestCheck", "check_line", "check_manifest", "fix_for"]
