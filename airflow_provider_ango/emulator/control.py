"""``EmulatorControl``: a small httpx client of the emulator's ``/_emulator/`` control API."""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_ango.emulator.common import ClosingContext

CONTROL_TIMEOUT_SECONDS = 600.0  # seeding a million assets or acting on them takes seconds


class EmulatorControlError(RuntimeError):
    """The control API refused a request (its message says why)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class EmulatorControl(ClosingContext):
    def __init__(self, base_url: str, timeout: float = CONTROL_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._client.request(method, f"/_emulator{path}", json=body, params=params)
        payload = response.json()
        if response.status_code >= 400:
            raise EmulatorControlError(response.status_code, payload.get("message", response.text))
        return payload

    # -- state --------------------------------------------------------------------------
    def reset(self) -> None:
        """Wipe projects, storages, faults, the request log, exports and the clock offset."""
        self._call("POST", "/reset")

    def seed_project(
        self,
        name: str,
        category_schema: dict[str, Any] | None = None,
        batches: list[str] | None = None,
        assets: int | list[dict[str, Any]] | None = None,
        synthetic_assets: dict[str, Any] | list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a project; returns its JSON (``_id``, ``batches``, ``stages``, ``assetCount``).

        ``assets`` is a count of simple assets or a list of import items (batches may be named).
        ``synthetic_assets`` is ``{"count", "stage"?, "batch"?, "externalIdPrefix"?,
        "createdAt"?, "updatedAt"?, "taskType"?}`` (or a list of them) for big projects.
        ``extra`` passes ``description``, ``type``, ``workflow`` (e.g. ``["Label"]`` or
        ``["Consensus", "Review"]``) and ``consensusCount``.
        """
        body: dict[str, Any] = {"name": name, **extra}
        if category_schema is not None:
            body["categorySchema"] = category_schema
        if batches is not None:
            body["batches"] = batches
        if assets is not None:
            body["assets"] = assets
        if synthetic_assets is not None:
            body["syntheticAssets"] = synthetic_assets
        result: dict[str, Any] = self._call("POST", "/projects", body)
        return result

    def act(self, project_id: str, **body: Any) -> dict[str, Any]:
        """Act as labelers/reviewers: ``action="submit"|"review"|"move"`` plus selection
        (``taskIds``, ``externalIds``, ``batch``, ``fromStage``, ``limit``), ``answer``,
        ``reviewStatus``, ``toStage``, ``at`` (ISO time), ``by``, ``duration`` (ms).
        Returns ``{"count", "taskIds", "truncated"}``."""
        result: dict[str, Any] = self._call("POST", f"/projects/{project_id}/act", body)
        return result

    def counts(self, project_id: str) -> dict[str, Any]:
        """Assets, per-stage and per-batch counts, and externalIds present more than once."""
        result: dict[str, Any] = self._call("GET", f"/projects/{project_id}/counts")
        return result

    def insert_assets(
        self,
        project_id: str,
        assets: list[dict[str, Any]] | None = None,
        count: int | None = None,
        **spec: Any,
    ) -> dict[str, Any]:
        """Add assets as another writer would (import items, or ``count`` bare ones); returns their ids."""
        body: dict[str, Any] = {"assets": assets} if assets is not None else {"count": count, **spec}
        result: dict[str, Any] = self._call("POST", f"/projects/{project_id}/assets", body)
        return result

    def delete_assets(
        self, project_id: str, external_ids: list[str] | None = None, asset_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """Soft-delete assets (every asset of each externalId, and/or by id)."""
        body = {"externalIds": external_ids or [], "assetIds": asset_ids or []}
        result: dict[str, Any] = self._call("DELETE", f"/projects/{project_id}/assets", body)
        return result

    def add_storage_files(self, storage_id: str, bucket_name: str, keys: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/storages/{storage_id}/files", {"bucketName": bucket_name, "keys": keys}
        )
        return result

    # -- faults -------------------------------------------------------------------------
    def add_fault(
        self,
        path_pattern: str,
        kind: str,
        count: int = 1,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        method: str | None = None,
        apply_after: float | None = None,
        answer: str | None = None,
    ) -> dict[str, Any]:
        """Fault the next ``count`` requests whose path matches ``path_pattern`` (regex).

        kind: ``status`` (not applied), ``slow`` (applied after ``delay`` s), ``reset``
        (connection reset, not applied), ``truncate`` (applied, body cut in half),
        ``apply_late`` (applied ``apply_after`` s after arrival; ``answer="late"`` holds the
        answer until then, ``answer="drop"`` resets the connection at once).
        """
        body: dict[str, Any] = {"pathPattern": path_pattern, "kind": kind, "count": count}
        for key, value in (
            ("status", status),
            ("retryAfter", retry_after),
            ("delay", delay),
            ("method", method),
            ("applyAfter", apply_after),
            ("answer", answer),
        ):
            if value is not None:
                body[key] = value
        result: dict[str, Any] = self._call("POST", "/faults", body)
        return result

    def faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return faults

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # -- request log --------------------------------------------------------------------
    def requests(self, path_pattern: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        """Logged API/file requests (seq > ``since``), oldest first; apikey values redacted."""
        params: dict[str, Any] = {}
        if path_pattern is not None:
            params["pathPattern"] = path_pattern
        if since is not None:
            params["since"] = since
        entries: list[dict[str, Any]] = self._call("GET", "/requests", params=params)["requests"]
        return entries

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    # -- clock and settings -------------------------------------------------------------
    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the emulator's clock forward (expires signed URLs, stamps later times)."""
        result: dict[str, Any] = self._call("POST", "/clock", {"advance": seconds})
        return result

    def set_clock(self, iso_time: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/clock", {"set": iso_time})
        return result

    def clock(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/clock")
        return result

    def set_url_expiry(self, seconds: float) -> None:
        """Lifetime of signed export URLs handed out from now on (reset restores the default)."""
        self._call("POST", "/config", {"urlExpirySeconds": seconds})

    def settings(self) -> dict[str, Any]:
        """The emulator's settings (``EmulatorSettings`` as JSON)."""
        settings: dict[str, Any] = self._call("GET", "/config")["settings"]
        return settings

    # -- traffic and keys -----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``{"requests", "rateLimited", "byStatus", "organizations": {id: {"requests", "rateLimited"}}}``."""
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def add_key(
        self,
        organization: str | None = None,
        scopes: list[str] | None = None,
        service_account: bool | None = None,
        key: str | None = None,
    ) -> str:
        """A new API key in ``organization`` (default: the emulator's own); ``scopes`` make it a
        service-account key (``ango_sa_...``) that reaches only those endpoint groups."""
        body: dict[str, Any] = {}
        if organization is not None:
            body["organization"] = organization
        if scopes is not None:
            body["scopes"] = scopes
        if service_account is not None or scopes is not None:
            body["serviceAccount"] = bool(service_account) if service_account is not None else True
        if key is not None:
            body["key"] = key
        added: str = self._call("POST", "/keys", body)["key"]
        return added

    def keys(self) -> list[dict[str, Any]]:
        """Every key's organization, scopes and first characters (never a whole key)."""
        keys: list[dict[str, Any]] = self._call("GET", "/keys")["keys"]
        return keys
