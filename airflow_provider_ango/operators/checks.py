"""Argument checks the operators run before their first write and before they defer.

Each check costs at most one cheap request (a one-object listing, one storage listing) and fails
with an :class:`~airflow_provider_ango.exceptions.AngoConfigError` naming the argument, the value
and the fix, so that nothing is written, posted or requested from Ango for an argument that cannot
work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_ango.exceptions import (
    AngoConfigError,
    AngoStorageNotFoundError,
    BucketNotFoundError,
    BucketUriError,
)
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import BucketHook


def bucket_of(uri: str, conn_id: str | None, argument: str) -> BucketHook:
    """A hook for ``uri``; a URI that does not parse names ``argument``."""
    try:
        return BucketHook.from_uri(uri, conn_id)
    except BucketUriError as error:
        raise AngoConfigError(f"{argument}={uri!r}: {error}") from None


def require_bucket(hook: BucketHook, argument: str, prefix: str = "") -> None:
    """The bucket of ``hook`` exists: a listing of at most one object under ``prefix`` of its root
    (under the argument's own prefix, which is what a role limited to that prefix may list)."""
    try:
        next(iter(hook.iter_objects(prefix, page_size=1)), None)
    except BucketNotFoundError as error:
        raise AngoConfigError(
            f"{argument}={hook.uri_for(prefix) if prefix else hook.uri!r}: {error}"
        ) from None


def require_storage(hook: AngoHubHook, storage_id: str, argument: str = "storage_id") -> None:
    """``storage_id`` is one of the organization's storage integrations (one paged listing)."""
    storages = hook.list_storages()
    if any(storage.id == storage_id for storage in storages):
        return
    known = ", ".join(
        f"{storage.id} ({storage.name or storage.provider or '?'})" for storage in storages[:10]
    )
    settings = hook.session.settings
    raise AngoStorageNotFoundError(
        f"{argument}={storage_id!r} is not a storage integration of the organization of Airflow "
        f"connection {settings.conn_id!r} (host {settings.base_url}); it has {len(storages)}: "
        f"{known or 'none'}. Use one of those ids (Ango Hub, Organization > Storages), or create the "
        "integration first"
    )


def run_identity(context: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(dag_id, run_id)`` of the running task, or ``None`` for what the context does not hold."""
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
    run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
    return (str(dag_id) if dag_id else None, str(run_id) if run_id else None)


__all__ = ["bucket_of", "require_bucket", "require_storage", "run_identity"]
