"""Export benchmark: peak memory and throughput of landing an export zip, against a naive baseline.

Run: ``.venv/bin/python benchmarks/bench_exports.py [--records N] [--sizes K]`` (``make bench``).

An Ango-format export of ``N`` assets (each with a bounding box, a polygon, a
classification and a three-stage history, about 2.7 KiB of JSON) is written as a zip,
once as a JSON array and once as NDJSON. Each scenario runs in a fresh Python process, and
its peak resident memory (``ru_maxrss``, which counts C allocations too) is reported above
the process's own size just before the work starts:

* **provider (JSON)**: records cut out of the streamed array by the provider's scanner, each
  loaded with ``orjson.loads`` (:mod:`airflow_provider_ango.exports.records`) and written as
  NDJSON part files by the provider's :class:`PartWriter` (orjson per record);
* **provider (NDJSON)**: the same from the NDJSON export (one ``orjson.loads`` per line);
* **baseline**: what the SDK's ``exportV3`` does - ``json.loads(zip.read(member))``, the whole
  export in memory - then the same NDJSON lines written with ``json.dumps``.

The writer targets local files, so the figures are the parsing/landing work alone (no
bucket). The run is repeated at ``N / K`` records to show how memory grows with the export.
JSON used to go through ijson's C backend (yajl2_c), which spent about 85% of the run
building the records; cutting each element's bytes out and loading them with orjson made it
about 2.5x faster (figures in issue 14's closing note).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

SCENARIOS = ("provider-json", "provider-ndjson", "baseline-json")


def make_record(number: int) -> dict[str, Any]:
    box = {"x": 559.1259640102828 + number, "y": 370.33893919793013, "height": 243.03, "width": 462.72}
    polygon = [[593.67 + k, 1121.96 - k] for k in range(8)]
    meta = {"createdAt": "2024-05-01T11:20:32.792Z", "createdBy": "labeler@example.com", "createdIn": "Label"}
    answer: dict[str, list[dict[str, Any]]] = {
        "tools": [
            {"bounding-box": box, "objectId": f"o{number}a", "schemaId": "f85d16526793ef2", "title": "car"},
            {"polygon": polygon, "objectId": f"o{number}b", "schemaId": "a966c779938346", "title": "road"},
        ],
        "classifications": [
            {"objectId": f"c{number}", "schemaId": "6c1eaa823dcda1", "tool": "radio", "answer": "2"}
        ],
        "relations": [],
    }
    history = [
        {"stage": stage, "duration": 1000 * k, "completedAt": "2024-05-01T11:43:50.821Z", **answer}
        for k, stage in enumerate(("Start", "Label", "Review"))
    ]
    return {
        "asset": f"https://bucket.s3.eu-central-1.amazonaws.com/images/{number:08d}.jpg",
        "externalId": f"images/{number:08d}.jpg",
        "metadata": {"width": 1920, "height": 1080},
        "batches": ["nightly"],
        "task": {
            "taskId": f"{number:024x}",
            "stage": "Complete",
            "stageId": "Complete",
            "updatedAt": "2024-05-01T11:43:50.774Z",
            "updatedBy": "reviewer@example.com",
            "totalDuration": 18069,
            "tools": [dict(tool, metadata=meta) for tool in answer["tools"]],
            "classifications": answer["classifications"],
            "relations": [],
            "stageHistory": history,
        },
    }


def write_zip(path: Path, records: int, export_format: str) -> int:
    """The export zip, written record by record; returns the uncompressed size of its member."""
    size = 0
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(f"export.{export_format}", "w", force_zip64=True) as member,
    ):
        if export_format == "json":
            member.write(b"[")
            size += 1
        for number in range(records):
            encoded = json.dumps(make_record(number), separators=(",", ":")).encode()
            chunk = ((b"," if number else b"") + encoded) if export_format == "json" else encoded + b"\n"
            member.write(chunk)
            size += len(chunk)
        if export_format == "json":
            member.write(b"]")
            size += 1
    return size


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_child(scenario: str, zip_path: Path, out_dir: Path) -> dict[str, Any]:
    """Inside the child: do the work, report records, seconds and memory."""
    import orjson  # noqa: F401  (loaded before the baseline RSS is taken, like the rest)

    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.records import iter_zip_records
    from airflow_provider_ango.exports.registry import FileRegistry

    def open_write(key: str) -> Any:
        return (out_dir / key).open("wb")

    before = rss_bytes()
    started = time.perf_counter()
    if scenario.startswith("provider"):
        with FileRegistry(out_dir) as registry:
            writer = PartWriter(
                open_write, "", registry, kind="ndjson", max_rows=100_000, max_bytes=128 << 20
            )
            write_records(writer, iter_zip_records(zip_path))
            count = registry.records
    else:
        with zipfile.ZipFile(zip_path) as archive:
            data = json.loads(archive.read(archive.namelist()[0]))
        count = 0
        with (out_dir / "part-00000.ndjson").open("w") as out:
            for record in data:
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
                count += 1
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"records": count, "seconds": seconds, "peak_above_start": max(peak - before, 0), "start": before}


def measure(scenario: str, zip_path: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-out-") as out_dir:
        output = subprocess.run(
            [sys.executable, __file__, "--child", scenario, str(zip_path), out_dir],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, default=4, help="also run at records / SIZES")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scenario, zip_path, out_dir = args.child
        print(json.dumps(run_child(scenario, Path(zip_path), Path(out_dir))))
        return

    mib = 1024 * 1024
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as scratch:
        for records in sorted({max(1, args.records // args.sizes), args.records}):
            zips = {}
            for export_format in ("json", "ndjson"):
                path = Path(scratch) / f"{records}.{export_format}.zip"
                size = write_zip(path, records, export_format)
                zips[export_format] = (path, size)
            json_size = zips["json"][1]
            results = {
                "provider-json": measure("provider-json", zips["json"][0]),
                "provider-ndjson": measure("provider-ndjson", zips["ndjson"][0]),
                "baseline-json": measure("baseline-json", zips["json"][0]),
            }
            for scenario, result in results.items():
                assert result["records"] == records, (scenario, result)
            rows.append((records, json_size, results))

    print(
        f"Landing an Ango export as NDJSON parts (record ~{rows[-1][1] / rows[-1][0] / 1024:.1f} KiB of JSON)"
    )
    print(
        f"{'records':>9} {'JSON MiB':>9} {'scenario':<16} {'peak MiB':>9} "
        f"{'seconds':>8} {'rec/s':>9} {'MiB/s':>7}"
    )
    for records, json_size, results in rows:
        for scenario in SCENARIOS:
            result = results[scenario]
            print(
                f"{records:>9,} {json_size / mib:>9.1f} {scenario:<16} "
                f"{result['peak_above_start'] / mib:>9.1f} "
                f"{result['seconds']:>8.2f} {records / result['seconds']:>9,.0f} "
                f"{json_size / mib / result['seconds']:>7.1f}"
            )
    records, json_size, results = rows[-1]
    provider, ndjson, baseline = (results[name] for name in SCENARIOS)
    floor = 1 * mib  # below a MiB the ratio would measure noise
    print()
    print(f"At {records:,} records ({json_size / mib:.0f} MiB of JSON):")
    print(
        f"  peak memory, baseline / provider (JSON):   "
        f"{baseline['peak_above_start'] / max(provider['peak_above_start'], floor):.1f}x"
    )
    print(
        f"  peak memory, provider JSON / NDJSON:       "
        f"{max(provider['peak_above_start'], floor) / max(ndjson['peak_above_start'], floor):.2f}x"
    )
    print(f"  throughput, provider (JSON) / baseline:    {baseline['seconds'] / provider['seconds']:.2f}x")
    print(f"  throughput, provider (NDJSON) / baseline:  {baseline['seconds'] / ndjson['seconds']:.2f}x")
    print(
        f"  throughput, provider NDJSON / JSON:        {provider['seconds'] / ndjson['seconds']:.2f}x "
        "(the same records from either export format; within 2x is the aim)"
    )
    if len(rows) > 1:
        small = rows[0][2]
        grow_provider = provider["peak_above_start"] / max(small["provider-json"]["peak_above_start"], floor)
        grow_baseline = baseline["peak_above_start"] / max(small["baseline-json"]["peak_above_start"], floor)
        print(
            f"  memory growth from {rows[0][0]:,} to {records:,} records: provider {grow_provider:.1f}x, "
            f"baseline {grow_baseline:.1f}x"
        )


if __name__ == "__main__":
    main()
