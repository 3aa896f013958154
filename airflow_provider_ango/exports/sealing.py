"""The signed export URL sealed with Airflow's Fernet key while it crosses from triggerer to worker.

A trigger's event payload is stored in Airflow's metadata database and travels through the
API server, so the signed URL (a bearer secret until it expires) must not be in it in
clear. It is encrypted with the deployment's Fernet key (``[core] fernet_key``), which the
triggerer and the workers share as they do for connection passwords. When no Fernet key is
configured, nothing is sealed: the event carries no URL and the worker asks Ango for the
export again (slower, never leaky).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow_provider_ango.models.export import SignedUrl

if TYPE_CHECKING:
    from airflow.sdk.crypto import FernetProtocol

log = logging.getLogger(__name__)


def _fernet() -> FernetProtocol:
    from airflow.sdk.crypto import get_fernet

    return get_fernet()


def seal_url(url: SignedUrl) -> str | None:
    """The URL encrypted for the event payload, or None when encryption is unavailable."""
    try:
        fernet = _fernet()
    except Exception as error:  # a malformed key must not leak the URL by falling back to clear text
        log.warning("Cannot load Airflow's Fernet key (%s); the export link is not passed on", error)
        return None
    if not getattr(fernet, "is_encrypted", False):
        return None
    token = fernet.encrypt(url.get_secret_value().encode("utf-8"))
    return token.decode("ascii")


def unseal_url(token: str) -> SignedUrl | None:
    """The URL back from :func:`seal_url`; None when it cannot be decrypted here (key rotated?)."""
    try:
        raw = _fernet().decrypt(token.encode("ascii"))
        return SignedUrl(raw.decode("utf-8"))
    except Exception as error:
        log.warning(
            "Cannot decrypt the sealed export link (%s); requesting the export again", type(error).__name__
        )
        return None


__all__ = ["seal_url", "unseal_url"]
