"""exports/sealing.py: the signed URL sealed with Airflow's Fernet key, unreadable once the key rotates."""

from __future__ import annotations

import pytest


def test_sealed_url_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    from airflow_provider_ango.exports.sealing import seal_url, unseal_url
    from airflow_provider_ango.models.export import SignedUrl

    url = SignedUrl("https://bucket.example/export.zip?X-Amz-Signature=secret123456")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    try:
        token = seal_url(url)
        assert token is not None
        assert "secret123456" not in token
        assert unseal_url(token) == url
        monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())  # rotated away
        get_fernet.cache_clear()
        assert unseal_url(token) is None
    finally:
        get_fernet.cache_clear()
