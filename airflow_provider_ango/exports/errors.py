"""Errors of the export side; each names the item at fault and the fix."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class AngoExportConfigError(AirflowFailException):
    """The operator's arguments cannot work (retrying would fail the same way)."""


class AngoExportIntegrityError(AirflowException):
    """A staged or downloaded export is not what was announced (short, corrupt, wrong checksum)."""


class AngoExportFormatError(AirflowFailException):
    """The export's content is not Ango's JSON array / NDJSON export format."""


class AngoLandingError(AirflowException):
    """Landing into the destination failed; nothing new is visible at the final prefix."""


__all__ = [
    "AngoExportConfigError",
    "AngoExportFormatError",
    "AngoExportIntegrityError",
    "AngoLandingError",
]
