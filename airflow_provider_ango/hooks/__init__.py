"""Hooks of the Ango Hub provider: ``ango`` (the Ango Hub REST API) and ``bucket`` (S3, GCS, Azure Blob)."""
