"""Scale: a streamed export whose server memory stays bounded, and a 1,000,000-asset project.

The emulator runs in this process (``ango`` fixture), so the process's resident set size is
the server's. Bounds are on memory, never on time.
"""

from __future__ import annotations

import gc
import io
import json
import threading
import zipfile
from pathlib import Path

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.plugin import in_ci
from tests.emulator.helpers import data_of

STATM = Path("/proc/self/statm")
PAGE = 4096
# Outside Linux there is no /proc to read memory from; in CI (Linux) nothing may be skipped.
pytestmark = pytest.mark.skipif(
    not STATM.exists() and not in_ci(), reason="needs Linux /proc to read the resident set size"
)


def rss_bytes() -> int:
    return int(STATM.read_text().split()[1]) * PAGE


class PeakRss:
    """Samples the resident set size in a thread while a block runs; ``peak`` is the highest."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRss:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def test_large_export_is_streamed_with_bounded_server_memory(ango: AngoEmulator, api: httpx.Client) -> None:
    tasks = 300_000
    project = ango.control.seed_project(
        name="stream",
        batches=["nightly"],
        synthetic_assets={"count": tasks, "stage": "Complete", "batch": "nightly"},
    )
    gc.collect()
    baseline = rss_bytes()
    with PeakRss() as measured:
        answer = api.get("/v2/export", params={"project": project["_id"], "format": "ndjson"}, timeout=300)
        url = data_of(answer)["exportPath"]
        size = 0
        with httpx.stream("GET", url) as download:
            archive_bytes = bytearray()
            for chunk in download.iter_bytes():
                size += len(chunk)
                archive_bytes.extend(chunk)
    growth = measured.peak - baseline
    with zipfile.ZipFile(io.BytesIO(bytes(archive_bytes))) as archive:
        (info,) = archive.infolist()
        with archive.open(info) as member:
            first = json.loads(member.readline())
            lines = 1 + sum(1 for _ in member)
    assert lines == tasks
    assert first["task"]["stage"] == "Complete"
    assert first["batches"] == ["nightly"]
    assert size == len(archive_bytes)
    # The uncompressed export is far larger than what the server's memory grew by
    # (the client's copy of the compressed zip is counted in the growth too).
    assert info.file_size > 95 * 2**20
    megabytes = info.file_size / 2**20
    print(f"export of {tasks} tasks: {megabytes:.0f} MiB uncompressed, server RSS +{growth / 2**20:.1f} MiB")
    assert growth < 40 * 2**20, (
        f"RSS grew by {growth / 2**20:.1f} MiB for a {info.file_size / 2**20:.0f} MiB export"
    )


def test_a_million_assets_in_one_project(ango: AngoEmulator, api: httpx.Client) -> None:
    count = 1_000_000
    gc.collect()
    baseline = rss_bytes()
    project = ango.control.seed_project(
        name="million", batches=["b1"], synthetic_assets={"count": count, "stage": "Complete", "batch": "b1"}
    )
    gc.collect()
    growth = rss_bytes() - baseline
    assert project["assetCount"] == count
    # Compact rows: about 200 bytes an asset (its externalId string, the externalId index,
    # a few machine words of columns), far from a dict per asset.
    print(f"{count} assets: RSS +{growth / 2**20:.0f} MiB ({growth / count:.0f} bytes an asset)")
    assert growth < 300 * count, f"{growth / count:.0f} bytes per asset"
    counts = ango.control.counts(project["_id"])
    assert counts["stages"]["Complete"] == count
    assert counts["batches"] == {"b1": count}
    assert counts["duplicateExternalIds"] == {}
    last_page = data_of(
        api.get(
            f"/v2/project/{project['_id']}/tasks",
            params={"page": count // 100, "limit": 100, "sort": "createdAt,_id"},  # 100: the documented cap
        )
    )
    assert last_page["total"] == count
    assert len(last_page["tasks"]) == 100
    last = last_page["tasks"][-1]
    # The REST documentation's task: the asset's id, and the externalId at the top.
    assert data_of(api.get(f"/v2/task/{last['_id']}"))["task"]["asset"] == last["asset"]
    by_external_id = {"filters": json.dumps({"externalId": last["externalId"]})}
    found = data_of(api.get(f"/v2/project/{project['_id']}/assets", params=by_external_id))
    assert found["total"] == 1
    assert found["assets"][0]["_id"] == last["asset"]
