"""What a nightly import costs at Ango's documented limits: the night's work, not the project's size.

The emulator runs at its strict defaults (100 a page, batch names), with the rate window scaled
to 100 requests a second where throughput matters (the same arithmetic as 100 a minute, sixty
times faster); the page cap is never turned off. Requests are counted from the emulator's log.

The manifests are synthetic (written with the build operator's builder and manifest writer from
listed objects that do not exist, so that their ``last_modified`` days can be chosen): listing
10,000 real objects is the bucket hook's tests' job.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.imports.helpers import T0, Obj, Store, import_assets, last_seq, synthetic_manifest

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

NIGHT = 10_000  # new files of one night
LOOKBACK = 1_000  # files of the previous day read again by the look-back, imported the night before
DAY_SIZE = 10_000  # assets an earlier night imported


def nightly_manifest(store: Store) -> dict[str, Any]:
    """The night of day 2: 10,000 new files, plus 1,000 of day 1 again (the look-back)."""
    from airflow_provider_ango.models.window import TimeWindow

    earlier = [
        Obj(f"cam/prev-{n:07d}.jpg", last_modified=T0 + timedelta(hours=23, seconds=n % 3600))
        for n in range(DAY_SIZE - LOOKBACK, DAY_SIZE)
    ]
    night = [
        Obj(f"cam/new-{n:07d}.jpg", last_modified=T0 + timedelta(days=1, seconds=n)) for n in range(NIGHT)
    ]
    window = TimeWindow.half_open(T0 + timedelta(hours=18), T0 + timedelta(days=2))
    return synthetic_manifest(store, "night", earlier + night, window, external_id="{folder}/{stem}")


def seed(ango: AngoEmulator, store: Store, days: int) -> str:
    """A project of ``days`` earlier nights of 10,000 assets each, day 1's first (``cam/prev-...``)."""
    from airflow_provider_ango.imports.scope import default_scope_prefix, scope_batch_name

    prefix = default_scope_prefix(store.bucket.name, "incoming/")
    names = [scope_batch_name(prefix, T0 - timedelta(days=day)) for day in range(days)]
    specs = [{"count": DAY_SIZE, "batch": names[0], "externalIdPrefix": "cam/prev-"}]
    specs += [
        {"count": DAY_SIZE, "batch": name, "externalIdPrefix": f"old-{day}-"}
        for day, name in enumerate(names)
    ][1:]
    project: dict[str, Any] = ango.control.seed_project(
        name=f"{days}-days", batches=names, synthetic_assets=specs
    )
    assert project["assetCount"] == days * DAY_SIZE
    return str(project["_id"])


@pytest.mark.ango_settings(rate_limit="100/s")
def test_a_nightly_import_costs_the_same_into_a_million_assets_as_into_ten_thousand(
    s3_store: Store, ango: AngoEmulator, ango_connection: str
) -> None:
    manifest = nightly_manifest(s3_store)
    assert manifest["counts"]["items"] == NIGHT + LOOKBACK
    requests: dict[int, int] = {}
    for days in (1, 100):  # 10,000 and 1,000,000 assets
        project_id = seed(ango, s3_store, days)
        since = last_seq(ango)
        result = import_assets(s3_store, project_id, manifest)
        assert (result["submitted"], result["skipped_existing"]) == (NIGHT, LOOKBACK)
        log = ango.control.requests(since=since)
        assert all(entry["status"] < 400 for entry in log)
        requests[days * DAY_SIZE] = len(log)
        counts = ango.control.counts(project_id)
        assert counts["duplicateExternalIds"] == {}
        assert counts["assets"] == days * DAY_SIZE + NIGHT
        ango.control.reset()  # the million-asset project goes; the connection stays valid
    small, large = requests[10_000], requests[1_000_000]
    assert abs(large - small) <= 0.02 * small, requests
    # The formula: 1 project read, day 1's scope batch in pages of 100, 1 batch created (and read
    # back), one POST per 500 new items. A whole-project listing alone would take 10,000.
    bound = 1 + math.ceil(DAY_SIZE / 100) + 2 + math.ceil(NIGHT / 500)
    assert small <= bound, requests


@pytest.mark.parametrize("limiter", ["on", "off"])
@pytest.mark.ango_settings(rate_limit="100/s")
def test_1000_items_and_a_10000_asset_listing_through_the_rate_limit(
    s3_store: Store, ango: AngoEmulator, ango_connection: str, monkeypatch: pytest.MonkeyPatch, limiter: str
) -> None:
    """100 listing pages and 100 POSTs of 10 at 100 requests a second: paced by the client's limiter
    there is no 429 at all; without it (``requests_per_minute: 0``) the 429s are waited out."""
    from airflow_provider_ango.hooks.ango.ratelimit import reset_shared_limiters
    from airflow_provider_ango.testing.ango import connection_extra

    if limiter == "off":
        extra = {**connection_extra(ango.settings), "requests_per_minute": 0}
        connection = {"conn_type": "ango", "password": ango.api_key, "host": ango.url, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ANGO_DEFAULT", json.dumps(connection))
        reset_shared_limiters()
    project_id = ango.control.seed_project(name="busy", synthetic_assets={"count": 10_000})["_id"]
    items = [Obj(f"cam/{n:04d}.jpg", last_modified=T0 + timedelta(seconds=n)) for n in range(1_000)]
    manifest = synthetic_manifest(s3_store, "thousand", items)
    before = ango.control.stats()
    result = import_assets(s3_store, project_id, manifest, presence="project", chunk_size=10)
    assert result["submitted"] == 1_000
    stats = ango.control.stats()
    limited = stats["rateLimited"] - before["rateLimited"]
    answered = {status: count for status, count in stats["byStatus"].items() if int(status) >= 400}
    assert set(answered) <= {"429"}  # no failure of any other kind
    if limiter == "on":
        assert limited == 0
    else:
        assert limited > 0  # the limit was really met, and waited out
    counts = ango.control.counts(project_id)
    assert counts["duplicateExternalIds"] == {}
    assert counts["assets"] == 11_000
