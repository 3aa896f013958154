"""imports/fingerprints.py: the compact set of externalIds."""

from __future__ import annotations

from airflow_provider_ango.imports.fingerprints import FingerprintSet


def test_fingerprint_set_membership_and_repeats() -> None:
    ids = FingerprintSet(["a", "b", "a", "é/ü 1", "c"]).freeze()
    assert len(ids) == 4
    assert len(ids.repeated) == 1
    assert "a" in ids
    assert "é/ü 1" in ids
    assert "d" not in ids
    assert ids.nbytes == 32
