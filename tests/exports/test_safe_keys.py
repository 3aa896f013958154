"""exports/safe_keys.py: object names from externalIds and path segments from run ids, never escaping."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "external_id",
    ["../../etc/passwd", "a/b/c.jpg", "..", ".", "", "\\\\server\\share", "x\x00y", "名前.png", "a" * 5000],
)
def test_asset_names_never_escape_or_hide(external_id: str) -> None:
    from airflow_provider_ango.exports.safe_keys import asset_object_name

    name = asset_object_name(external_id)
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith((".", "_", "-"))
    assert name.endswith(".json")
    assert len(name) <= 96 + 1 + 16 + 5
    assert all(32 < ord(char) < 127 for char in name)


def test_asset_names_are_stable_and_distinct() -> None:
    from airflow_provider_ango.exports.safe_keys import asset_object_name

    assert asset_object_name("a/b") != asset_object_name("a_b")
    assert asset_object_name("a/b") == asset_object_name("a/b")
    assert asset_object_name("dup") != asset_object_name("dup", salt="task-2")
    assert asset_object_name("img 1.jpg").startswith("img_1.jpg-")


def test_path_segments() -> None:
    from airflow_provider_ango.exports.safe_keys import safe_path_segment

    run_id = "scheduled__2024-05-01T00:00:00+00:00"
    assert safe_path_segment(run_id) == run_id
    assert "/" not in safe_path_segment("../x/y")
    assert safe_path_segment("a/b") != safe_path_segment("a_b")
    assert safe_path_segment("..") not in ("..", ".", "")
