"""progress.py: progress lines with rate and ETA, at most one per interval."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_ango.progress import Progress

log = logging.getLogger("tests.imports")


def test_progress_lines_have_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = Progress(log, "Imported", 1000, unit="assets", every_seconds=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="tests.imports"):
        now[0] = 2.0
        progress.advance(100)  # first update logs
        now[0] = 3.0
        progress.advance(100)  # not due yet
        now[0] = 20.0
        progress.advance(300)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "Imported: 100/1000 assets (10.0%), 50.0 assets/s, ETA 0:00:18"
    assert len(lines) == 2
    assert lines[1].startswith("Imported: 500/1000 assets (50.0%), 25.0 assets/s")
