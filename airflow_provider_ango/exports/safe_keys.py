"""Object names made from untrusted strings (an asset's ``externalId``, a run id).

An externalId is whatever the importer chose: ``../../etc/passwd``, ``a/b.jpg``, an empty
string, 2,000 characters of Unicode, or the same value twice in one project. Used as an
object key it could escape the destination prefix, nest folders, or silently overwrite
another asset's file. So a key is built as ``<readable part>-<hash>``:

- the readable part keeps ASCII letters, digits, ``.``, ``_`` and ``-`` (everything else
  becomes ``_``; runs are collapsed), never starts with ``.`` or ``_`` (hidden or
  "metadata" files to Spark/Hive readers) and is cut to :data:`MAX_READABLE` characters;
- the hash is the first 16 hex digits of the SHA-256 of the *whole* original string, so
  two externalIds that read the same after cleaning (``a/b`` and ``a_b``) still get
  different names, and the same externalId always gets the same name in every run.

A key therefore never contains ``/``, ``\\``, ``..`` as a segment, or a control character.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_READABLE = 96
HASH_DIGITS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SEGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9._~:+=-]+")


def short_hash(text: str, digits: int = HASH_DIGITS) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


def readable_part(text: str, max_length: int = MAX_READABLE) -> str:
    """``text`` reduced to a safe, readable file-name stem (may be empty)."""
    # NFKD splits accented letters into letter + accent, so "Ça" keeps its "C".
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_text).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    return cleaned[:max_length].rstrip("._-")


def asset_object_name(external_id: str, *, suffix: str = ".json", salt: str | None = None) -> str:
    """The file name of one asset's JSON in the ``split`` layout.

    ``salt`` (the task id) tells apart two assets that share an externalId: the hash then
    covers ``externalId + NUL + salt``. Without it the name depends on the externalId only.
    """
    hashed = external_id if salt is None else f"{external_id}\x00{salt}"
    stem = readable_part(external_id) or "asset"
    return f"{stem}-{short_hash(hashed)}{suffix}"


def safe_path_segment(text: str, max_length: int = 200) -> str:
    """One path segment (a dag id or run id) with no ``/`` and no traversal.

    Airflow's run ids (``scheduled__2024-05-01T00:00:00+00:00``) pass through unchanged; a
    segment that had to be altered gets a short hash so that two different inputs never
    share one segment.
    """
    cleaned = _SEGMENT_UNSAFE.sub("_", text).strip(".")
    if cleaned == text and cleaned and len(cleaned) <= max_length:
        return cleaned
    return f"{(cleaned or 'x')[: max_length - 9]}-{short_hash(text, 8)}"


__all__ = ["asset_object_name", "readable_part", "safe_path_segment", "short_hash"]
