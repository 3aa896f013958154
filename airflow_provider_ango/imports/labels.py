"""Pre-labels from bucket files, checked whole before the first one is sent.

Input files hold items of the Ango Import Format, keyed by ``externalId``: a JSON array
(first non-blank byte ``[``, streamed with ijson, never loaded whole) or NDJSON (one
object per line). Three streaming passes:

1. validate every item (shape, ``schemaId`` of every annotation against the project's
   category schema, every classification answer against its type, options and ``required``
   (:mod:`.answers`), no externalId twice), keeping externalIds as 8-byte fingerprints;
2. one listing of the project's assets finds which externalIds exist (a second read of the
   input names the first unknown ones, only when there are some);
3. only when nothing is wrong: send in chunks. Any problem raises one
   :class:`LabelValidationError` listing the first offenders, and nothing is sent.

Importing the same pre-labels twice leaves the same pre-labels (an import replaces a task's
pre-label answer), so a chunk whose POST failed ambiguously is simply sent again.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson
import orjson
from pydantic import ValidationError

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError, AngoLabelValidationError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.ango.endpoints import chunked
from airflow_provider_ango.imports.answers import Ontology, answer_problems
from airflow_provider_ango.imports.fingerprints import FingerprintSet, fingerprint
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE, asset_external_id, list_present
from airflow_provider_ango.models.api import CategorySchema, CategorySchemaItem
from airflow_provider_ango.models.imports import LabelItem, validation_reason
from airflow_provider_ango.progress import LogLike, Progress

#: ``(where, item)`` for every item of every input file; ``item`` is the parsed JSON value, or
#: the exception that made it unreadable. ``where`` is ``<uri>:<line or item number>``.
LabelRecords = Callable[[], Iterator[tuple[str, Any]]]
MAX_OFFENDERS = 10


class LabelValidationError(AngoLabelValidationError):
    """The pre-labels do not fit the project; nothing was sent (kept under its first name)."""


def iter_label_file(buffered: io.BufferedReader, uri: str) -> Iterator[tuple[str, Any]]:
    """Items of one file: a streamed JSON array, or NDJSON. Unreadable items come as exceptions."""
    head = buffered.peek(64).lstrip()
    if head.startswith(b"["):
        position = 0
        try:
            for position, item in enumerate(ijson.items(buffered, "item", use_float=True), start=1):
                yield f"{uri}#{position}", item
        except ijson.JSONError as error:
            yield f"{uri}#{position + 1}", ValueError(f"the JSON array breaks off: {error}")
        return
    for number, raw in enumerate(buffered, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield f"{uri}:{number}", orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield f"{uri}:{number}", ValueError(f"not JSON: {error}")


def schema_ids(schema: CategorySchema | None) -> dict[str, set[str]]:
    """schemaIds by section; classifications include those nested in tools and classifications."""
    sections: dict[str, set[str]] = {"tools": set(), "classifications": set(), "relations": set()}
    if schema is None:
        return sections

    def nested(items: Iterable[CategorySchemaItem]) -> None:
        for item in items:
            sections["classifications"].add(item.schema_id)
            nested(item.classifications)

    for tool in schema.tools:
        sections["tools"].add(tool.schema_id)
        nested(tool.classifications)
    nested(schema.classifications)
    sections["relations"].update(relation.schema_id for relation in schema.relations)
    return sections


@dataclass
class LabelCounts:
    items: int = 0
    annotations: int = 0
    submitted: int = 0
    chunks: int = 0

    def to_xcom(self) -> dict[str, int]:
        return {
            "items": self.items,
            "annotations": self.annotations,
            "submitted": self.submitted,
            "chunks": self.chunks,
        }


@dataclass
class LabelImporter:
    """Pre-labels for ``project_id``: :meth:`validate` everything, then :meth:`send` in chunks."""

    hook: AngoHubHook
    project_id: str
    log: LogLike
    chunk_size: int = field(default=500, kw_only=True)
    page_size: int = field(default=DEFAULT_PAGE_SIZE, kw_only=True)
    max_ambiguous_rounds: int = field(default=3, kw_only=True)
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    counts: LabelCounts = field(default_factory=LabelCounts, init=False)

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")

    def validate(self, records: LabelRecords) -> None:
        """Passes 1 and 2; raises :class:`LabelValidationError` naming the first offenders."""
        project = self.hook.get_project(self.project_id)
        known = schema_ids(project.category_schema)
        ontology = Ontology.of(project.category_schema)
        offenders: list[str] = []
        problems = 0
        ids = FingerprintSet()
        for where, raw in records():
            self.counts.items += 1
            reason = self._check(raw, known, ontology)
            if reason is not None:
                problems += 1
                if len(offenders) < MAX_OFFENDERS:
                    offenders.append(f"{where}: {reason}")
                continue
            ids.add(raw["externalId"])
        ids.freeze()
        if ids.repeated:
            problems += len(ids.repeated)
            for where, raw in records():
                if len(offenders) >= MAX_OFFENDERS:
                    break
                external_id = raw.get("externalId") if isinstance(raw, dict) else None
                if isinstance(external_id, str) and fingerprint(external_id) in ids.repeated:
                    offenders.append(f"{where}: externalId {external_id!r} appears more than once")
                    ids.repeated.discard(fingerprint(external_id))
        unknown = self._unknown_external_ids(records, ids)
        problems += unknown[0]
        offenders.extend(unknown[1][: max(0, MAX_OFFENDERS - len(offenders))])
        if problems:
            shown = "\n  ".join(offenders)
            raise LabelValidationError(
                f"{problems} problem(s) in the pre-labels for project {self.project_id}; nothing was "
                f"imported. First ones:\n  {shown}\nFix the input (schemaIds must come from the "
                "project's category schema; answers must fit their classification's type and options, "
                "required ones answered; externalIds must be assets of the project) and run again."
            )
        self.log.info(
            "Pre-labels checked: %d item(s), %d annotation(s), every schemaId and externalId known",
            self.counts.items,
            self.counts.annotations,
        )

    def _check(self, raw: Any, known: dict[str, set[str]], ontology: Ontology) -> str | None:
        if isinstance(raw, Exception):
            return str(raw)
        if not isinstance(raw, dict):
            return f"an item must be a JSON object, got {type(raw).__name__}"
        try:
            item = LabelItem.model_validate(raw)
        except ValidationError as error:
            label = raw.get("externalId")
            return f"externalId {label!r}: {validation_reason(error)}"
        bad = []
        for section, schema_id in item.schema_refs():
            self.counts.annotations += 1
            if schema_id not in known[section]:
                bad.append(f"unknown schemaId {schema_id!r} ({section})")
        bad.extend(answer_problems(ontology, raw))
        if bad:
            return f"externalId {item.external_id!r}: " + "; ".join(dict.fromkeys(bad))
        return None

    def _unknown_external_ids(self, records: LabelRecords, ids: FingerprintSet) -> tuple[int, list[str]]:
        if not len(ids):
            return 0, []
        result = list_present(
            lambda page, limit: self.hook.get_assets_page(self.project_id, page, limit),
            asset_external_id,
            ids,
            self.page_size,
        )
        missing = len(ids) - len(result.found)
        if not missing:
            return 0, []
        named: list[str] = []
        for where, raw in records():
            if len(named) >= MAX_OFFENDERS:
                break
            if isinstance(raw, dict) and isinstance(raw.get("externalId"), str):
                value = fingerprint(raw["externalId"])
                if ids.contains_fingerprint(value) and not result.found.contains_fingerprint(value):
                    named.append(f"{where}: unknown externalId {raw['externalId']!r} (no such asset)")
        return missing, named

    def send(self, records: LabelRecords) -> LabelCounts:
        """Pass 3: post in chunks (call :meth:`validate` first)."""
        progress = Progress(
            self.log, "Pre-labels imported", self.counts.items, unit="items", clock=self.clock
        )
        items = (raw for _, raw in records())
        for chunk in chunked(items, self.chunk_size):
            for round_number in range(self.max_ambiguous_rounds + 1):
                try:
                    for _receipt in self.hook.iter_import_labels(
                        self.project_id, chunk, chunk_size=len(chunk)
                    ):
                        pass
                    break
                except AngoAmbiguousWriteError as error:
                    if round_number >= self.max_ambiguous_rounds:
                        raise
                    self.log.warning(
                        "Pre-label chunk of %d item(s) may not have been applied (%s); sending it again "
                        "(re-importing the same pre-labels leaves the same result)",
                        len(chunk),
                        error,
                    )
            self.counts.chunks += 1
            self.counts.submitted += len(chunk)
            progress.advance(len(chunk))
        return self.counts


__all__ = [
    "LabelCounts",
    "LabelImporter",
    "LabelRecords",
    "LabelValidationError",
    "iter_label_file",
    "schema_ids",
]
