"""Shared data and assertions of the emulator tests."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx

SCHEMA: dict[str, Any] = {
    "tools": [
        {
            "tool": "bounding-box",
            "title": "bb",
            "schemaId": "b1c6805d054f0e44ae11500",
            "classifications": [
                {"tool": "radio", "title": "colour", "schemaId": "nested-radio", "options": []},
            ],
        },
        {"tool": "polygon", "title": "gon", "schemaId": "a966c7799383465850cd803"},
    ],
    "classifications": [
        {"tool": "radio", "title": "rdo", "schemaId": "6421df1fa34ac13204ea157", "options": []},
        {"tool": "checkbox", "title": "chk", "schemaId": "1ea7a275ce5c9cf30a6f148", "options": []},
    ],
    "relations": [{"tool": "one-to-one", "title": "sng", "schemaId": "8f8e617174718e80bbea268"}],
}


def data_of(response: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a success envelope (asserting it and its status, 201 for creates, on the way)."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["status"] == "success"
    return payload["data"]


def fail_message(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["status"] == "fail"
    return str(payload["message"])


def read_export(content: bytes) -> tuple[str, list[dict[str, Any]]]:
    """(member name, records) of an export zip holding one .json or .ndjson file."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        assert len(names) == 1, names
        raw = archive.read(names[0])
    if names[0].endswith(".ndjson"):
        return names[0], [json.loads(line) for line in raw.splitlines() if line.strip()]
    return names[0], json.loads(raw)
