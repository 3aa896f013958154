"""imports/rules.py: externalId and batch templates, asset types, natural order."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ango.imports.rules import ItemRules, RuleError, check_asset_types, natural_sort_key
from tests.imports.helpers import Obj


def test_external_id_and_batch_templates() -> None:
    rules = ItemRules(
        prefix="incoming/",
        bucket="lake",
        external_id="{bucket}/{key}",
        batches=["nightly", "{folder}", "{type}s"],
        context_data={"source": "camera-7"},
    )
    obj = Obj("2024/05/cat 1.JPG")
    assert rules.external_id_of(obj) == "lake/incoming/2024/05/cat 1.JPG"
    assert rules.batches_of(obj) == ["nightly", "2024/05", "images"]
    assert rules.batches_of(Obj("top.jpg")) == ["nightly", "images"]  # empty {folder} left out
    assert rules.context_of(obj) == {
        "bucket": "lake",
        "key": "incoming/2024/05/cat 1.JPG",
        "size": 10,
        "etag": "abc",
        "lastModified": "2024-05-01T00:00:00+00:00",
        "source": "camera-7",
    }
    assert ItemRules(prefix="incoming/", bucket="lake").external_id_of(obj) == "2024/05/cat 1.JPG"
    assert ItemRules(prefix="", bucket="b", external_id=lambda o: o.key.upper()).external_id_of(obj).isupper()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"external_id": "{filename}"}, "unknown field"),
        ({"external_id": "{key"}, "not a valid format"),
        ({"external_id": "{}"}, "unknown field"),
        ({"batches": "nightly"}, "list of names"),
    ],
)
def test_bad_templates_fail_early(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        ItemRules(prefix="", bucket="b", **kwargs)


def test_asset_types_and_natural_order() -> None:
    assert check_asset_types(["image", "video"]) == {"image", "video"}
    with pytest.raises(RuleError, match="unknown asset type"):
        check_asset_types(["images"])
    names = ["page10.png", "page2.png", "page1.png", "cover.png"]
    assert sorted(names, key=natural_sort_key) == ["cover.png", "page1.png", "page2.png", "page10.png"]
