"""Sample data of the example DAGs, shared by their tests and ``scripts/demo.py``.

Pure: it imports no Airflow and no cloud SDK, so it may be imported before an Airflow home is set.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The example DAGs; the folder exists in a checkout of the project (it is not in the wheel).
EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_FILES = ("nightly_bucket_import.py", "scheduled_export_to_lake.py", "prelabel_then_export.py")

CATEGORY_SCHEMA: dict[str, Any] = {
    "tools": [
        {
            "tool": "bounding-box",
            "title": "Vehicle",
            "schemaId": "vehicle",
            "classifications": [
                {
                    "tool": "radio",
                    "title": "Kind",
                    "schemaId": "kind",
                    "options": [{"value": "car", "schemaId": "car"}, {"value": "truck", "schemaId": "truck"}],
                }
            ],
        }
    ],
    "classifications": [{"tool": "text", "title": "Note", "schemaId": "note"}],
    "relations": [],
}
WORKFLOW = ["Label", "Review"]  # Start -> Label -> Review -> Complete


def png(width: int, height: int, seed: int = 0) -> bytes:
    """A valid RGB PNG with a simple gradient (``seed`` shifts its colours), drawn with zlib and struct."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows += bytes(
                ((x * 255 // width + seed * 40) % 256, (y * 255 // height) % 256, (seed * 70) % 256)
            )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def prediction(external_id: str, kind: str = "car", x: int = 4, note: str = "model v1") -> dict[str, Any]:
    """One pre-label in the Ango import format for :data:`CATEGORY_SCHEMA`: a vehicle box at ``x``."""
    return {
        "externalId": external_id,
        "tools": [
            {
                "schemaId": "vehicle",
                "bounding-box": {"x": x, "y": 6, "width": 20, "height": 12},
                "classifications": [{"schemaId": "kind", "answer": kind}],
            }
        ],
        "classifications": [{"schemaId": "note", "answer": note}],
        "relations": [],
    }


def ndjson(records: Iterable[dict[str, Any]]) -> bytes:
    """Records as NDJSON: one compact JSON object a line, the last line ended too."""
    return b"".join(json.dumps(record, separators=(",", ":")).encode() + b"\n" for record in records)
