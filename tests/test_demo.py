"""`make demo`'s payload, ``scripts/demo.py``, run as a user runs it: a fresh process and environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(300)]


def count_after(label: str, output: str) -> int:
    found = re.search(rf"^\s*{re.escape(label)}: (\d+)", output, re.MULTILINE)
    assert found is not None, f"no '{label}:' line in the demo's report:\n{output}"
    return int(found.group(1))


def test_demo_runs_the_three_jobs_and_reports_them(tmp_path: Path) -> None:
    # Nothing of this test session's Airflow set-up leaks in; temporary files go to tmp_path.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AIRFLOW", "ANGO_"))}
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, f"demo failed:\n{output}\n{result.stderr[-3000:]}"

    for job in ("ango_nightly_bucket_import", "ango_scheduled_export_to_lake", "ango_prelabel_then_export"):
        assert re.search(rf"\] {job}\s+success in [\d.]+ s", output), output
    assert "wait_for_stage deferred" in output
    assets = count_after("Assets imported", output)
    assert assets > 0
    assert count_after("Pre-labels applied", output) > 0
    assert re.search(r"^\s*Tasks per stage: Label \d+, Review \d+, Complete \d+", output, re.MULTILINE)
    files = count_after("Files landed", output)
    landed = re.findall(r"^\s+(s3://ango-lake/\S+)\s+[\d.]+ (?:B|KiB|MiB)$", output, re.MULTILINE)
    assert len(landed) == files > 0
    prelabeled = [uri for uri in landed if uri.startswith("s3://ango-lake/prelabeled/project=")]
    assert any(uri.endswith("/_manifest.json") for uri in prelabeled), output
    assert any(uri.endswith("/_SUCCESS") for uri in prelabeled), output
    # Job 2 merged into two Delta tables (created as version 0, the rows committed as 1) ...
    for table in ("tasks", "annotations"):
        assert f"s3://ango-lake/ango/{table}/_delta_log/00000000000000000001.json" in landed, output
        assert any(uri.startswith(f"s3://ango-lake/ango/{table}/project=") for uri in landed), output
    # ... which DuckDB queries: the accepted cam-1 tasks, one labeled box each.
    [completed] = re.findall(r"^\s+tasks per stage: Complete (\d+)$", output, re.MULTILINE)
    boxes = re.search(
        r"^\s+boxes per class: Vehicle \(car\) (\d+), Vehicle \(truck\) (\d+)$", output, re.MULTILINE
    )
    assert boxes is not None, output
    assert int(boxes.group(1)) + int(boxes.group(2)) == int(completed) > 0
    assert "Time taken:" in output

    # Quiet and tidy: Airflow's logs stay out of the report, no secret shows, nothing is left behind.
    assert len(output.splitlines()) < 60
    lowered = output.lower()
    for secret_marker in ("apikey", "password", "signature", "x-amz-", "fernet"):
        assert secret_marker not in lowered
    assert sorted(path.name for path in tmp_path.iterdir()) == []
