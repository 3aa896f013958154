"""Scope batches: what an import can collide with, named so that the import can list just that.

Every item :class:`~airflow_provider_ango.operators.imports.AngoBuildImportOperator` writes joins,
besides the user's batches, one *scope batch* named after its source and the UTC day of the
file's ``last_modified`` (a multi-page folder: its newest page's)::

    import:<bucket>/<prefix>:<YYYY-MM-DD>          e.g. import:camera-drops/incoming:2025-01-01

The import's existence check then lists only the assets of the scope batches its manifest's items
carry, instead of the whole project. Whatever can collide with an item carries the same batch: the
same file imported before (a re-run, a retry, the look-back overlap with an earlier interval, a
write Ango applied late, another DAG importing the same source) has the same source and the same
``last_modified``, so the same name. What it cannot see: assets added by anything but an import of
this source, and an externalId reused by a file modified on another day (``presence="project"``
lists the whole project for those).

A scope batch is recognised by its form alone (:func:`is_scope_batch`): it starts with
:data:`SCOPE_MARK` and ends with ``:<YYYY-MM-DD>``, so a manifest carries its own scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.rules import ItemRules, ObjectInfo
from airflow_provider_ango.models.window import to_utc

#: Every scope batch name starts with this (a user's own batch names never need to).
SCOPE_MARK = "import:"
_SCOPE_NAME = re.compile(r"^import:.+:(\d{4}-\d{2}-\d{2})$", re.DOTALL)


def default_scope_prefix(bucket: str, prefix: str) -> str:
    """``import:<bucket>/<prefix>`` of a source (``import:<bucket>`` for a whole bucket)."""
    path = prefix.strip("/")
    return f"{SCOPE_MARK}{bucket}/{path}" if path else f"{SCOPE_MARK}{bucket}"


def check_scope_prefix(scope_prefix: str) -> str:
    """Refuse a prefix the import would not recognise as a scope (it must start with ``import:``)."""
    if not scope_prefix.startswith(SCOPE_MARK) or len(scope_prefix) == len(SCOPE_MARK):
        raise ValueError(
            f"scope_batch_prefix {scope_prefix!r} must start with {SCOPE_MARK!r} and name the source, "
            f"e.g. '{SCOPE_MARK}camera-drops/incoming'; the import recognises scope batches by that mark"
        )
    return scope_prefix


def scope_batch_name(scope_prefix: str, last_modified: datetime) -> str:
    """The one naming rule: ``<scope_prefix>:<UTC day of last_modified>``."""
    day = to_utc(last_modified, "last_modified").date().isoformat()
    return f"{scope_prefix}:{day}"


def is_scope_batch(name: str) -> bool:
    return _SCOPE_NAME.match(name) is not None


def with_scope_batch(rules: ItemRules, scope_prefix: str, seen: set[str] | None = None) -> ItemRules:
    """``rules`` whose batches are the user's plus the object's scope batch (noted in ``seen``)."""
    check_scope_prefix(scope_prefix)

    def batches(obj: ObjectInfo) -> list[str]:
        name = scope_batch_name(scope_prefix, obj.last_modified)
        if seen is not None:
            seen.add(name)
        return [*rules.batches_of(obj), name]

    return replace(rules, batches=batches)


@dataclass(frozen=True)
class ManifestScope:
    """What a manifest says about its own scope.

    :param ids: the valid items' externalIds as fingerprints (frozen).
    :param scope_batches: the scope batch names the items carry, sorted.
    :param unscoped: valid items that carry no scope batch (a hand-made manifest, or one built
        with ``scope_batches=False``); while there are any, only a whole-project listing is safe.
    """

    ids: FingerprintSet
    scope_batches: tuple[str, ...]
    unscoped: int = 0

    @property
    def scoped(self) -> bool:
        return bool(self.scope_batches) and not self.unscoped


class ScopeCollector:
    """Notes the scope batches of items one at a time (for :class:`ManifestScope`)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.unscoped = 0

    def add(self, batches: Iterable[str] | None) -> None:
        found = [name for name in batches or () if isinstance(name, str) and is_scope_batch(name)]
        if found:
            self.names.update(found)
        else:
            self.unscoped += 1

    def scope(self, ids: FingerprintSet) -> ManifestScope:
        return ManifestScope(ids.freeze(), tuple(sorted(self.names)), self.unscoped)


def scope_ids(names: Sequence[str], resolved: dict[str, str]) -> list[str]:
    """The ids of the scope batches among ``resolved`` (name -> id), each once, in name order."""
    return list(dict.fromkeys(resolved[name] for name in sorted(names) if name in resolved))


__all__ = [
    "SCOPE_MARK",
    "ManifestScope",
    "ScopeCollector",
    "check_scope_prefix",
    "default_scope_prefix",
    "is_scope_batch",
    "scope_batch_name",
    "scope_ids",
    "with_scope_batch",
]
