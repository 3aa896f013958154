"""Helpers shared by test modules of several trees."""

from __future__ import annotations

SIGNED = (
    "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=120000"
)
