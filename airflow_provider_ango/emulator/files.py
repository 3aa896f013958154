"""Export files and the signed URLs that serve them, like a private bucket would.

``/_files/export/<id>.zip?Expires=<epoch seconds>&Signature=<hex HMAC-SHA256>``: the
signature covers the path and the expiry with a secret made per server, so a URL cannot be
forged or extended; past ``Expires`` (by the emulator's clock) or with a wrong signature the
answer is 403 with an S3-like XML error body. Files live in one temporary directory that
is removed on shutdown (and emptied on reset).
"""

from __future__ import annotations

import hmac
import re
import secrets
import shutil
import tempfile
import threading
from hashlib import sha256
from pathlib import Path
from urllib.parse import parse_qs

from airflow_provider_ango.emulator.common import ApiError, Clock

FILE_PATH = re.compile(r"^/_files/export/([0-9a-f]{32})\.zip$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class AccessDeniedError(ApiError):
    """403 from the file server (answered as XML, like S3)."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class RangeNotSatisfiableError(ApiError):
    def __init__(self, size: int) -> None:
        super().__init__(416, "Requested range not satisfiable")
        self.size = size


class ExportFiles:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self.directory = Path(tempfile.mkdtemp(prefix="ango-emulator-exports-"))
        self._files: dict[str, Path] = {}

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), sha256).hexdigest()

    def publish(self, file_path: Path, expiry_seconds: float) -> str:
        """Register a finished file; returns its signed path+query (to append to the base URL)."""
        export_id = secrets.token_hex(16)
        with self._lock:
            self._files[export_id] = file_path
        path = f"/_files/export/{export_id}.zip"
        expires = int(self._clock.now() + expiry_seconds)
        return f"{path}?Expires={expires}&Signature={self._signature(path, expires)}"

    def resolve(self, path: str, query: str) -> Path:
        """The file a signed URL names; AccessDeniedError / 404 otherwise."""
        match = FILE_PATH.match(path)
        if match is None:
            raise ApiError(404, "No such file")
        params = parse_qs(query, keep_blank_values=True)
        expires_values = params.get("Expires", [])
        signature_values = params.get("Signature", [])
        if len(expires_values) != 1 or len(signature_values) != 1 or not expires_values[0].isdigit():
            raise AccessDeniedError(
                "Query-string authentication requires the Signature and Expires parameters"
            )
        expires = int(expires_values[0])
        if not hmac.compare_digest(self._signature(path, expires), signature_values[0]):
            raise AccessDeniedError(
                "The request signature we calculated does not match the signature you provided"
            )
        if self._clock.now() > expires:
            raise AccessDeniedError("Request has expired")
        with self._lock:
            found = self._files.get(match.group(1))
        if found is None or not found.exists():
            raise ApiError(404, "The specified key does not exist")
        return found

    def clear(self) -> None:
        with self._lock:
            files = list(self._files.values())
            self._files.clear()
        for file_path in files:
            file_path.unlink(missing_ok=True)

    def cleanup(self) -> None:
        self.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Inclusive (first, last) byte of a single ``bytes=`` range; None means the whole file.

    A header that is not one simple byte range is ignored (RFC 9110 allows that).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise RangeNotSatisfiableError(size)
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiableError(size)
    return first, min(last, size - 1)


def error_xml(status: int, message: str) -> bytes:
    """An S3-style XML error body, as a bucket behind a signed URL answers."""
    code = {403: "AccessDenied", 404: "NoSuchKey"}.get(status, "InvalidRequest")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
