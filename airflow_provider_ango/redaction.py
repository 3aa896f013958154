"""Keeping secrets out of text: signed-URL signatures, API keys and other known secret values.

Every message the provider builds from a URL or a remote answer passes through here before it
reaches a log, an exception or XCom.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Ango's messages can be whole HTML error pages; keep enough to diagnose, not a page.
MAX_MESSAGE_LENGTH = 500

_REDACTED = "***"
# A URL up to its query; the query (and fragment) is what a signed URL's signature lives in.
_URL_WITH_QUERY = re.compile(r"(?P<base>https?://[^\s?#\"'<>]+)[?#][^\s\"'<>]*", re.IGNORECASE)
# ``user:password@`` in a URL (MinIO endpoints, proxies): the password is a secret.
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/\s@\"'<>]+@", re.IGNORECASE)
# Signature parameters that show up without their URL (S3, GCS, Azure SAS, generic tokens).
_SIGNATURE_PARAM = re.compile(
    r"\b(?P<name>X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential"
    r"|Signature|sig|token|apikey|api_key)=[^\s&\"'<>]+",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` without its userinfo, query string or fragment, marking what was removed."""
    base, sep, _rest = url.partition("?")
    base, hash_sep, _fragment = base.partition("#")
    base = _USERINFO.sub(lambda match: f"{match.group('scheme')}{_REDACTED}@", base)
    return f"{base}?<redacted>" if (sep or hash_sep) else base


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, URL userinfo, query strings and signature parameters from ``text``."""
    for secret in secrets:
        # Very short values would blank out ordinary words; real keys and signatures are long.
        if secret and len(secret) >= 6:
            text = text.replace(secret, _REDACTED)
    text = _USERINFO.sub(lambda match: f"{match.group('scheme')}{_REDACTED}@", text)
    text = _URL_WITH_QUERY.sub(lambda match: f"{match.group('base')}?<redacted>", text)
    return _SIGNATURE_PARAM.sub(lambda match: f"{match.group('name')}={_REDACTED}", text)


def safe_cause(error: BaseException, secrets: Iterable[str] = ()) -> BaseException | None:
    """``error`` when it (and what it was raised from) holds nothing to scrub; otherwise None.

    For ``raise OurError(scrubbed) from safe_cause(error)``: a traceback prints the chained causes
    in full, so a third-party error whose text carries a URL's userinfo, query string or a key is
    not chained (``from None``); the scrubbed message keeps its detail.
    """
    keys = tuple(secrets)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if scrub_text(text, keys) != text:
            return None
        chained = current.__cause__
        if chained is None and not current.__suppress_context__:
            chained = current.__context__
        current = chained
    return error


def truncate(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was dropped."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


__all__ = ["MAX_MESSAGE_LENGTH", "redact_url", "safe_cause", "scrub_text", "truncate"]
