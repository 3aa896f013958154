"""The streamed JSON array reader gives exactly what ``orjson.loads`` gives for the whole file.

Every document is read whole by orjson and through :func:`iter_json_array`, at several read
sizes (down to one byte a read, so every element is cut at every position) and compared. The
invalid documents must be refused by both.
"""

from __future__ import annotations

import io
import json
import random
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.exceptions import AngoExportFormatError
from airflow_provider_ango.exports import records
from airflow_provider_ango.exports.records import (
    FAST_DEPTH,
    ScanPatterns,
    iter_json_array,
    iter_zip_records,
    scan_patterns,
)

NASTY_STRINGS = [
    "",
    'say "hi"',
    "back\\slash",
    "ends with a backslash \\",
    '\\"',
    "\\\\\\",
    "],[{}]}{",
    '"},{"',
    '{"not": "an object"}',
    "comma, colon: and [brackets]",
    "\u00e9\u4e2d\U0001f600",
    "\x00\x01\x1f\t\n\r",
    "/slash/",
]


def _deep(levels: int, leaf: Any) -> Any:
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value, "s": "]}"}
    return value


def _random_value(generator: random.Random, depth: int = 0) -> Any:
    kind = generator.randrange(9 if depth < 6 else 5)
    if kind == 0:
        return generator.choice(NASTY_STRINGS)
    if kind == 1:
        return generator.randint(-(2**63), 2**64 - 1)
    if kind == 2:
        return generator.uniform(-1e6, 1e6)
    if kind == 3:
        return generator.choice([True, False, None])
    if kind == 4:
        return "".join(generator.choice('ab"\\[]{},: \u00e9') for _ in range(generator.randrange(12)))
    if kind in (5, 6):
        return [_random_value(generator, depth + 1) for _ in range(generator.randrange(5))]
    return {
        generator.choice(NASTY_STRINGS) + str(n): _random_value(generator, depth + 1)
        for n in range(generator.randrange(5))
    }


def _records() -> list[Any]:
    generator = random.Random(14)
    nasty = [{"externalId": text, "text": text, text: [text, {text: text}]} for text in NASTY_STRINGS]
    scalars = [0, -0.0, 1.5e-300, 18446744073709551615, 18446744073709551616, "x", True, None, [], {}]
    deep = [_deep(FAST_DEPTH - 1, "leaf"), _deep(FAST_DEPTH + 1, "]"), _deep(200, {"a": "}"})]
    return nasty + scalars + deep + [_random_value(generator) for _ in range(60)]


def _layouts(items: list[Any]) -> dict[str, bytes]:
    """The same array written compact, pretty, with odd whitespace, and with escaped unicode."""
    # json, not orjson, writes them: orjson refuses integers beyond 64 bits (orjson loads them as floats).
    elements = [json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() for item in items]
    return {
        "compact": b"[" + b",".join(elements) + b"]",
        "pretty": json.dumps(items, ensure_ascii=False, indent=2).encode() + b"\n",
        "whitespace": b" \r\n\t[ \n" + b" \t,\r\n ".join(elements) + b"\n\t] \r\n",
        "ascii escapes": json.dumps(items, indent="\t").encode(),
        "byte order mark": b"\xef\xbb\xbf" + json.dumps(items, separators=(", ", " : ")).encode(),
        "empty": b"[]",
        "empty with blanks": b" [ \n ] ",
    }


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes a read, whatever was asked."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._position = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._position : self._position + size]
        self._position += len(chunk)
        return chunk


# Possessive quantifiers need Python 3.11; 3.10 scans with the greedy ones. Both are tested where
# the interpreter has both (compiling the possessive set on 3.10 is a re.error).
PATTERN_SETS = {"greedy": scan_patterns(possessive=False)}
if sys.version_info >= (3, 11):
    PATTERN_SETS["possessive"] = scan_patterns(possessive=True)


@pytest.fixture(params=list(PATTERN_SETS))
def patterns(request: pytest.FixtureRequest) -> ScanPatterns:
    return PATTERN_SETS[request.param]


def _whole(document: bytes) -> Any:
    return orjson.loads(document.removeprefix(b"\xef\xbb\xbf"))


@pytest.mark.parametrize("layout", list(_layouts([])))
@pytest.mark.parametrize("step", [1, 3, 64, 4096, None])
def test_records_are_what_orjson_loads_from_the_whole_file(
    layout: str, step: int | None, patterns: ScanPatterns
) -> None:
    document = _layouts(_records())[layout]
    stream = io.BytesIO(document) if step is None else Trickle(document, step)
    got = list(iter_json_array(stream, "test", patterns))
    assert got == _whole(document)
    # Equal is not enough for floats and ints (1 == 1.0 == True): compare the exact encodings.
    assert [orjson.dumps(item) for item in got] == [orjson.dumps(item) for item in _whole(document)]


def test_small_reads_cut_every_record_of_a_real_size_export(
    monkeypatch: pytest.MonkeyPatch, patterns: ScanPatterns
) -> None:
    """READ_CHUNK below one record: every record spans reads, the scan resumes where it stopped."""
    monkeypatch.setattr(records, "READ_CHUNK", 97)
    document = _layouts(_records() * 5)["pretty"]
    assert list(iter_json_array(io.BytesIO(document), "test", patterns)) == _whole(document)


def test_a_record_larger_than_many_reads(patterns: ScanPatterns) -> None:
    big = {"frames": [{"points": [[n, n + 0.5]] * 50, "label": ']}\\"'} for n in range(4000)]}
    document = b"[" + orjson.dumps(big) + b"," + orjson.dumps({"after": "big"}) + b"]"
    assert len(document) > 10 * records.READ_CHUNK
    assert list(iter_json_array(io.BytesIO(document), "test", patterns)) == [big, {"after": "big"}]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'[{"a":1},{"a":', "the file ends inside element 2"),
        (b'[{"a":"unterminated}]', "the file ends inside element 1"),
        (b'[{"a":1}', "expected ',' or ']' after element 1"),
        (b"[1,2", "expected ',' or ']' after element 2"),
        (b"[1,]", "a value must follow the ','"),
        (b"[,1]", "element 1 at byte 1 starts with ','"),
        (b"[1 2]", "expected ',' or ']' after element 1"),
        (b'[{"a":1]]', r"element 1 \(from byte 1\)"),
        (b'[{"a":1}}]', "expected ',' or ']' after element 1"),
        (b"[1] x", "unexpected data after the closing"),
        (b"[tru]", "element 1"),
        (b"[NaN]", "element 1"),
        (b'["\\ud800"]', "element 1"),
        (b'[{"a":1},{"b":"\\q"}]', r"element 2 \(from byte 9\)"),
        (b"[\x0c1]", r"element 1 \(from byte 1\)"),
    ],
)
def test_invalid_documents_are_refused_like_orjson_does(
    document: bytes, message: str, patterns: ScanPatterns
) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(document)
    for stream in (io.BytesIO(document), Trickle(document, 1)):
        with pytest.raises(AngoExportFormatError, match=f"test is not valid JSON: {message}"):
            list(iter_json_array(stream, "test", patterns))


def test_records_stream_before_a_late_error() -> None:
    reader = iter_json_array(io.BytesIO(b'[{"a":1},{"a":2},oops]'), "test")
    assert next(reader) == {"a": 1}
    assert next(reader) == {"a": 2}
    with pytest.raises(AngoExportFormatError, match="element 3"):
        next(reader)


# -- the emulator's exports, JSON beside NDJSON ---------------------------------------------
def _export_zip(ango: AngoEmulator, project_id: str, export_format: str, path: Path) -> Path:
    headers = {"apikey": ango.api_key}
    params = {"project": project_id, "format": export_format, "includeHistory": "true"}
    with httpx.Client(timeout=30) as client:
        answer = client.get(f"{ango.url}/v2/export", params=params, headers=headers)
        answer.raise_for_status()
        download = client.get(answer.json()["data"]["exportPath"])
        download.raise_for_status()
    path.write_bytes(download.content)
    return path


def test_emulator_exports_load_the_same_from_json_and_ndjson(ango: AngoEmulator, tmp_path: Path) -> None:
    assets = [
        {
            "data": f"https://example.com/{number}.jpg",
            "externalId": f"{text}-{number}",
            "contextData": {"note": text, "nested": _deep(FAST_DEPTH + 3, text), "n": number},
        }
        for number, text in enumerate(NASTY_STRINGS[1:])
    ]
    project = ango.control.seed_project(name="nasty", assets=assets, workflow=["Label"])
    ango.control.act(project["_id"], action="submit")
    json_zip = _export_zip(ango, project["_id"], "json", tmp_path / "json.zip")
    ndjson_zip = _export_zip(ango, project["_id"], "ndjson", tmp_path / "ndjson.zip")

    from_json = list(iter_zip_records(json_zip))
    with zipfile.ZipFile(json_zip) as archive:
        whole = orjson.loads(archive.read("export.json"))
    assert len(from_json) == len(assets)
    assert from_json == whole
    assert list(iter_zip_records(ndjson_zip)) == from_json
    assert {record["externalId"] for record in from_json} == {asset["externalId"] for asset in assets}
