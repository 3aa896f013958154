"""imports/scope.py: one naming rule for scope batches, recognised by form alone, joined to every item."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.rules import ItemRules
from airflow_provider_ango.imports.scope import (
    ScopeCollector,
    check_scope_prefix,
    default_scope_prefix,
    is_scope_batch,
    scope_batch_name,
    with_scope_batch,
)
from airflow_provider_ango.models.window import TimeWindow
from tests.imports.helpers import T0, Obj

UTC = timezone.utc


def test_the_name_is_the_source_and_the_utc_day_of_last_modified() -> None:
    prefix = default_scope_prefix("camera-drops", "incoming/")
    assert prefix == "import:camera-drops/incoming"
    assert default_scope_prefix("whole", "") == "import:whole"
    late_evening_in_new_york = datetime(2025, 1, 1, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert scope_batch_name(prefix, late_evening_in_new_york) == "import:camera-drops/incoming:2025-01-02"
    assert scope_batch_name(prefix, datetime(2025, 1, 1, 23, 59, 59, tzinfo=UTC)).endswith(":2025-01-01")


def test_scope_batches_are_recognised_by_their_form_only() -> None:
    assert is_scope_batch("import:camera-drops/incoming:2025-01-02")
    assert is_scope_batch("import:b:with:colons:2025-01-02")
    for other in ("nightly-2025-01-02", "cam:2025-01-02", "import:2025-01-02", "import:b:2025-1-2", "x"):
        assert not is_scope_batch(other), other


def test_a_prefix_the_import_would_not_recognise_is_refused() -> None:
    assert check_scope_prefix("import:cams") == "import:cams"
    for bad in ("cams", "import:", "Import:cams"):
        with pytest.raises(ValueError, match="must start with 'import:'"):
            check_scope_prefix(bad)


def test_every_item_joins_its_scope_batch_besides_the_users_batches() -> None:
    seen: set[str] = set()
    rules = with_scope_batch(
        ItemRules(prefix="incoming/", bucket="b", batches=["nightly", "{folder}"]), "import:b/incoming", seen
    )
    objects = [
        Obj("cam-1/a.jpg", last_modified=T0),
        Obj("cam-1/b.jpg", last_modified=T0 + timedelta(days=1, hours=3)),
        Obj("top.jpg", last_modified=T0 + timedelta(hours=23)),
    ]
    builder = ItemBuilder(
        rules,
        BuildOptions(),
        TimeWindow(),
        lambda key: f"https://x/{key}",
        _no_read,
        logging.getLogger(__name__),
    )
    batches = {record.payload["externalId"]: record.payload["batches"] for record in builder.build(objects)}
    assert batches == {
        "cam-1/a.jpg": ["nightly", "cam-1", "import:b/incoming:2024-05-01"],
        "cam-1/b.jpg": ["nightly", "cam-1", "import:b/incoming:2024-05-02"],
        "top.jpg": ["nightly", "import:b/incoming:2024-05-01"],
    }
    assert seen == {"import:b/incoming:2024-05-01", "import:b/incoming:2024-05-02"}


def test_a_multi_page_folder_is_scoped_by_its_newest_page() -> None:
    rules = with_scope_batch(ItemRules(prefix="", bucket="b"), "import:b")
    pages = [
        Obj("doc/p1.png", last_modified=T0),
        Obj("doc/p2.png", last_modified=T0 + timedelta(days=2)),
    ]
    builder = ItemBuilder(
        rules,
        BuildOptions(multi_page=True),
        TimeWindow(),
        lambda key: f"https://x/{key}",
        _no_read,
        logging.getLogger(__name__),
    )
    (record,) = list(builder.build(pages))
    assert record.payload["batches"] == ["import:b:2024-05-03"]


def test_the_collector_counts_items_without_a_scope_batch() -> None:
    collector = ScopeCollector()
    collector.add(["import:b:2024-05-01", "nightly"])
    collector.add(["import:b:2024-05-02"])
    collector.add(["nightly"])
    collector.add(None)
    scope = collector.scope(FingerprintSet(["a", "b", "c", "d"]))
    assert scope.scope_batches == ("import:b:2024-05-01", "import:b:2024-05-02")
    assert scope.unscoped == 2
    assert not scope.scoped
    whole = ScopeCollector()
    whole.add(["import:b:2024-05-01"])
    assert whole.scope(FingerprintSet(["a"])).scoped


def _no_read(key: str, start: int, end: int | None) -> bytes:
    raise FileNotFoundError(key)
