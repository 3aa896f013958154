"""exports/registry.py: the file registry and the manifest it writes."""

from __future__ import annotations

from pathlib import Path

import orjson


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
