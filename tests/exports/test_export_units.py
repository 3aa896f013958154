"""Pure parts of the export side: no emulator, no bucket."""

from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest


def _zip(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return path


# -- safe keys -----------------------------------------------------------------------------
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


# -- windows -------------------------------------------------------------------------------
def test_incremental_window_is_half_open_in_utc() -> None:
    from airflow_provider_ango.exports.window import incremental_window

    start = datetime(2024, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    window = incremental_window(
        {"data_interval_start": start, "data_interval_end": start + timedelta(days=1)}
    )
    assert window.to_api() == {"$gte": "2024-05-01T00:00:00.000Z", "$lt": "2024-05-02T00:00:00.000Z"}


def test_adjacent_windows_share_their_boundary_after_flooring() -> None:
    from airflow_provider_ango.exports.window import incremental_window

    boundary = datetime(2024, 5, 2, 0, 0, 0, 999_999, tzinfo=timezone.utc)  # sub-millisecond digits
    first = incremental_window(
        {"data_interval_start": boundary - timedelta(days=1), "data_interval_end": boundary}
    )
    second = incremental_window(
        {"data_interval_start": boundary, "data_interval_end": boundary + timedelta(days=1)}
    )
    assert first.to_api()["$lt"] == second.to_api()["$gte"] == "2024-05-02T00:00:00.999Z"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"gte": "2024-05-01T00:00:00"}, "AngoWindowError", r"updated_at\.gte: .* has no timezone"),
        ({"after": "2024-05-01T00:00:00Z"}, "AngoExportConfigError", "updated_at: unknown bound"),
        ({"gte": "yesterday"}, "AngoWindowError", r"updated_at\.gte: 'yesterday' is not an ISO-8601 time"),
        (
            {"gte": "2024-05-02T00:00:00Z", "lt": "2024-05-01T00:00:00Z"},
            "AngoWindowError",
            "updated_at: time window starts after it ends",
        ),
        ("2024-05-01", "AngoExportConfigError", "updated_at must be a TimeWindow or a mapping"),
    ],
)
def test_bad_windows_are_named(value: Any, error: str, message: str) -> None:
    from airflow_provider_ango import exceptions
    from airflow_provider_ango.exports.window import coerce_window

    with pytest.raises(getattr(exceptions, error), match=message):
        coerce_window(value, "updated_at")


def test_window_from_rendered_templates() -> None:
    from airflow_provider_ango.exports.window import coerce_window

    window = coerce_window({"$gte": "2024-05-01T00:00:00+00:00", "$lt": "2024-05-02T00:00:00Z"}, "w")
    assert window is not None
    assert window.to_api() == {"$gte": "2024-05-01T00:00:00.000Z", "$lt": "2024-05-02T00:00:00.000Z"}


# -- records -------------------------------------------------------------------------------
def test_json_array_records_stream_with_numbers_intact(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.records import iter_zip_records

    records = [{"externalId": f"e{n}", "x": 559.1259640102828, "n": n, "big": 2**53 + 1} for n in range(3)]
    path = _zip(tmp_path, "export.json", b"\xef\xbb\xbf  \n" + orjson.dumps(records))
    assert list(iter_zip_records(path)) == records


def test_ndjson_records_skip_blank_lines(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.records import iter_zip_records

    path = _zip(tmp_path, "export.ndjson", b'{"a":1}\n\n{"a":2}\r\n')
    assert list(iter_zip_records(path)) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("export.json", b'{"not": "a list"}', "is not a JSON array"),
        ("export.json", b'[{"a": 1}, {"a":', "is not valid JSON"),
        ("export.json", b"", "is empty"),
        ("export.ndjson", b'{"a":1}\n{oops}\n', "line 2 is not valid JSON"),
        ("readme.txt", b"hello", "holds no .json or .ndjson file"),
    ],
)
def test_bad_exports_are_named(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    from airflow_provider_ango.exceptions import AngoExportFormatError
    from airflow_provider_ango.exports.records import iter_zip_records

    with pytest.raises(AngoExportFormatError, match=message):
        list(iter_zip_records(_zip(tmp_path, name, content)))


# -- zip check -----------------------------------------------------------------------------
def _zip_bytes(members: int = 1) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            archive.writestr(f"export-{number}.json", b"[" + b",".join([b'{"a":1}'] * 5000) + b"]")
    return buffer.getvalue()


def _tail_of(data: bytes, keep: int = 4096, step: int = 1000) -> Any:
    from airflow_provider_ango.exports.zipcheck import ZipTail

    tail = ZipTail(keep)
    for start in range(0, len(data), step):
        tail.feed(data[start : start + step])
    return tail


def test_zip_tail_accepts_a_whole_zip() -> None:
    from airflow_provider_ango.exports.zipcheck import check_zip_tail

    members = check_zip_tail(_tail_of(_zip_bytes(2)), "test zip")
    assert [member.filename for member in members] == ["export-0.json", "export-1.json"]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:-30], "not a complete zip"),
        (lambda data: data[: len(data) // 2], "not a complete zip"),
        (lambda data: b"<html>AccessDenied</html>", "does not start like a zip"),
        (lambda data: b"", "is empty"),
    ],
)
def test_zip_tail_rejects_cut_or_foreign_bodies(mangle: Any, message: str) -> None:
    from airflow_provider_ango.exceptions import AngoExportIntegrityError
    from airflow_provider_ango.exports.zipcheck import check_zip_tail

    with pytest.raises(AngoExportIntegrityError, match=message):
        check_zip_tail(_tail_of(mangle(_zip_bytes())), "test zip")


# -- layouts and the registry --------------------------------------------------------------
class MemoryStore:
    """open_write into a dict; an exception inside the ``with`` leaves nothing (like BucketWriter)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    @contextmanager
    def open_write(self, key: str) -> Any:
        buffer = io.BytesIO()
        yield buffer
        self.objects[key] = buffer.getvalue()


def test_parts_roll_over_by_rows_and_bytes(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    store = MemoryStore()
    records = [{"n": n, "pad": "x" * (200 if n == 5 else 10)} for n in range(12)]
    with FileRegistry(tmp_path) as registry:
        writer = PartWriter(store.open_write, "tmp/", registry, kind="ndjson", max_rows=4, max_bytes=100)
        write_records(writer, records)
        entries = list(registry)
        assert registry.records == 12
    assert [entry.records for entry in entries] == [3, 2, 1, 3, 3]  # 3 short rows fit 100 bytes; n=5 alone
    lines = [line for key in sorted(store.objects) for line in store.objects[key].splitlines()]
    assert [orjson.loads(line) for line in lines] == records


def test_a_failing_record_aborts_the_part_in_progress(tmp_path: Path) -> None:
    from airflow_provider_ango.exceptions import AngoExportFormatError
    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    store = MemoryStore()
    with FileRegistry(tmp_path) as registry:
        writer = PartWriter(store.open_write, "tmp/", registry, kind="json", max_rows=2, max_bytes=10**6)
        with pytest.raises(AngoExportFormatError, match="cannot be written as JSON"):
            write_records(writer, [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 2**70}])
    assert list(store.objects) == ["tmp/part-00000.json"]
    assert orjson.loads(store.objects["tmp/part-00000.json"]) == [{"a": 1}, {"a": 2}]


def test_manifest_is_valid_json_with_every_file(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.registry import FileEntry, FileRegistry

    with FileRegistry(tmp_path) as registry:
        empty = tmp_path / "empty.json"
        registry.write_manifest(empty, {"layout": "ndjson"})
        assert orjson.loads(empty.read_bytes()) == {
            "layout": "ndjson",
            "records": 0,
            "files_count": 0,
            "bytes": 0,
            "files": [],
        }
        for number in range(3):
            registry.record(FileEntry(f"part-{number:05d}.ndjson", 10, 100, "ab" * 32))
        full = tmp_path / "full.json"
        registry.write_manifest(full, {"layout": "ndjson"})
        data = orjson.loads(full.read_bytes())
        assert data["records"] == 30
        assert [entry["name"] for entry in data["files"]] == [f"part-{n:05d}.ndjson" for n in range(3)]
        assert "part-00001.ndjson" in registry
        assert "part-00009.ndjson" not in registry


# -- operator helpers ----------------------------------------------------------------------
def test_default_asset_is_the_static_part_of_the_destination() -> None:
    from airflow_provider_ango.operators.exports import default_asset

    assert (
        default_asset("s3://lake/ango/project={{ params.project_id }}/dt={{ ds }}/").uri == "s3://lake/ango"
    )
    assert default_asset("gs://lake/ango/exports/").uri == "gs://lake/ango/exports"
    with pytest.raises(ValueError, match="pass asset="):
        default_asset("{{ var.value.lake }}/ango/")


def test_source_info_accepts_the_xcom_or_a_uri() -> None:
    from airflow_provider_ango.exceptions import AngoExportConfigError
    from airflow_provider_ango.operators.exports import source_info

    assert source_info("s3://b/x/export.zip") == {"staging_uri": "s3://b/x/export.zip"}
    assert source_info({"staging_uri": "s3://b/e.zip", "sha256": "x"})["sha256"] == "x"
    with pytest.raises(AngoExportConfigError, match=r"source=trigger_task\.output"):
        source_info("{'staging_uri': ...}")


def test_land_operator_declares_its_asset_as_an_outlet() -> None:
    from airflow.sdk import Asset

    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    other = Asset("s3://elsewhere/x")
    operator = AngoLandExportOperator(
        task_id="land", source="s3://b/e.zip", destination_uri="s3://lake/ango/dt={{ ds }}/", outlets=[other]
    )
    assert operator.outlets == [other, Asset("s3://lake/ango")]
    quiet = AngoLandExportOperator(
        task_id="quiet", source="s3://b/e.zip", destination_uri="s3://lake/x/", emit_asset=False
    )
    assert quiet.outlets == []
    bad_layout: Any = "csv"
    with pytest.raises(ValueError, match="layout 'csv' is unknown"):
        AngoLandExportOperator(
            task_id="bad", source="s3://b/e.zip", destination_uri="s3://l/x/", layout=bad_layout
        )


def test_compression_only_for_part_layouts() -> None:
    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    with pytest.raises(ValueError, match="compression applies to the ndjson and json layouts"):
        AngoLandExportOperator(
            task_id="c",
            source="s3://b/e.zip",
            destination_uri="s3://l/x/",
            layout="split",
            compression="gzip",
        )


def test_sealed_url_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    from airflow_provider_ango.exports.sealing import seal_url, unseal_url
    from airflow_provider_ango.models.export import SignedUrl

    url = SignedUrl("https://bucket.example/export.zip?X-Amz-Signature=secret123456")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    try:
        token = seal_url(url)
        assert token is not None
        assert "secret123456" not in token
        assert unseal_url(token) == url
        monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())  # rotated away
        get_fernet.cache_clear()
        assert unseal_url(token) is None
    finally:
        get_fernet.cache_clear()


def test_a_templated_layout_is_checked_once_rendered() -> None:
    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    operator = AngoLandExportOperator(
        task_id="land",
        source="s3://b/e.zip",
        destination_uri="s3://l/x/",
        layout="{{ params.layout }}",
        emit_asset=False,
    )
    assert "layout" in operator.template_fields
    operator.layout = "csv"  # what rendering a bad Param gives
    with pytest.raises(ValueError, match="layout 'csv' is unknown"):
        operator.execute({})  # type: ignore[arg-type]
