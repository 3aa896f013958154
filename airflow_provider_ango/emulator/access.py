"""API keys, the organizations they belong to, and the scopes of service-account keys.

The emulator starts with one key in one organization. The control API adds more keys to an
organization (every key of one organization shares its rate limit), among them service-account
keys: their value starts with ``ango_sa_`` and they reach only the endpoint groups of their scopes;
any other endpoint answers 403, as Ango documents for keys with insufficient permissions.

Keys are stored by their SHA-256 digest, so a look-up never compares key strings.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.emulator.common import bad_request, require_hex24

DEFAULT_ORGANIZATION_ID = "0000000000000000000000aa"
SERVICE_ACCOUNT_PREFIX = "ango_sa_"
# What a scope can name: one group per family of endpoints (see each route's ``group``).
ENDPOINT_GROUPS = ("projects", "batches", "assets", "tasks", "labels", "export", "storages", "metrics")


@dataclass(frozen=True)
class ApiKey:
    organization: str
    service_account: bool
    scopes: frozenset[str] | None  # None: every group (a user's key)
    hint: str  # the key's first characters, for listings; never the whole key

    def allows(self, group: str) -> bool:
        return self.scopes is None or group in self.scopes

    def to_json(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "serviceAccount": self.service_account,
            "scopes": sorted(self.scopes) if self.scopes is not None else None,
            "keyHint": self.hint,
        }


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _hint(key: str) -> str:
    shown = len(SERVICE_ACCOUNT_PREFIX) + 2 if key.startswith(SERVICE_ACCOUNT_PREFIX) else 4
    return key[:shown] + "..."


class KeyRing:
    """Every key the emulator accepts; ``reset`` leaves only the key it was started with."""

    def __init__(self, default_key: str) -> None:
        self._lock = threading.Lock()
        self._default = (
            _digest(default_key),
            ApiKey(DEFAULT_ORGANIZATION_ID, False, None, _hint(default_key)),
        )
        self._keys: dict[bytes, ApiKey] = dict([self._default])

    def lookup(self, given: str | None) -> ApiKey | None:
        if not given:
            return None
        with self._lock:
            return self._keys.get(_digest(given))

    def add(self, body: Any) -> tuple[str, ApiKey]:
        """``{"organization"?, "serviceAccount"?, "scopes"?, "key"?}`` -> (the key, its record)."""
        if not isinstance(body, dict):
            raise bad_request("A key is a JSON object with organization, serviceAccount, scopes, key")
        unknown = sorted(set(body) - {"organization", "serviceAccount", "scopes", "key"})
        if unknown:
            raise bad_request(f"Unknown key fields: {', '.join(unknown)}")
        organization = require_hex24(body.get("organization", DEFAULT_ORGANIZATION_ID), "organization id")
        service_account = body.get("serviceAccount", False)
        if not isinstance(service_account, bool):
            raise bad_request("serviceAccount must be true or false")
        scopes = self._scopes(body.get("scopes"), service_account)
        key = body.get("key")
        if key is None:
            key = (SERVICE_ACCOUNT_PREFIX if service_account else "emu_") + secrets.token_urlsafe(24)
        if not isinstance(key, str) or len(key) < 8:
            raise bad_request("key must be a string of at least 8 characters")
        if service_account != key.startswith(SERVICE_ACCOUNT_PREFIX):
            raise bad_request(f"Service-account keys, and only they, start with {SERVICE_ACCOUNT_PREFIX!r}")
        record = ApiKey(organization, service_account, scopes, _hint(key))
        with self._lock:
            if _digest(key) in self._keys:
                raise bad_request("That key exists already")
            self._keys[_digest(key)] = record
        return key, record

    @staticmethod
    def _scopes(raw: Any, service_account: bool) -> frozenset[str] | None:
        if raw is None:
            if service_account:
                raise bad_request(
                    f"A service-account key needs scopes, a list from {', '.join(ENDPOINT_GROUPS)}"
                )
            return None
        if not service_account:
            raise bad_request("Only service-account keys have scopes; a user's key reaches every endpoint")
        if not isinstance(raw, list) or not raw or not all(isinstance(item, str) for item in raw):
            raise bad_request("scopes must be a non-empty list of endpoint groups")
        unknown = sorted(set(raw) - set(ENDPOINT_GROUPS))
        if unknown:
            raise bad_request(f"Unknown scopes {unknown}; endpoint groups: {', '.join(ENDPOINT_GROUPS)}")
        return frozenset(raw)

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_json() for record in self._keys.values()]

    def reset(self) -> None:
        with self._lock:
            self._keys = dict([self._default])
