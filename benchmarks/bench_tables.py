"""Lake-table benchmark: rows per second and peak memory of the Parquet and Delta layouts, in one run.

Run: ``.venv/bin/python benchmarks/bench_tables.py [--records N] [--sizes K]`` (``make bench``).

``N`` synthetic export records (``bench_exports.make_record``: a box, a polygon, a radio answer
and a three-stage history each, about 3.3 KiB of JSON) are generated one at a time inside each
scenario (never held as a list):

* **ndjson**: the existing NDJSON layout (:class:`PartWriter`, orjson per record), local files:
  the baseline;
* **pyarrow**: the same rows (:mod:`...tables.rows`) gathered into two whole Arrow tables in
  memory and written with ``pyarrow.parquet.write_table``, local files: what a script without
  streaming does, the floor for Parquet encoding and the ceiling for memory;
* **parquet**: the provider's streaming writer (bounded row groups -> part files), local files;
* **parquet-s3**: ``write_parquet_tables`` to a bucket (landing, manifest, ``_SUCCESS``);
* **delta-append**: ``commit_delta_tables(mode="append")`` into new Delta tables in a bucket;
* **delta-merge**: the same records merged into those tables again (every task matched: every
  file rewritten, every task's annotation rows replaced), transaction checked and set.

The bucket is moto's S3 server in a process of its own on loopback (what it stores must not
count against the writer), reached through an Airflow connection as in production.

Each scenario runs in a fresh Python process. Peak memory is the child's peak resident size
(``ru_maxrss``, which counts Arrow's and delta-rs's C/Rust allocations) above its size after
its imports, just before the work starts. The run is repeated at ``N / K`` records to show
that the streaming layouts stay flat as the export grows.
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
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCENARIOS = ("ndjson", "pyarrow", "parquet", "parquet-s3", "delta-append", "delta-merge")
BUCKET = "bench-tables"
BOUND_MIB = 64.0
WARM_UP = 200  # records each child writes once before it measures


def records(count: int) -> Iterator[dict[str, Any]]:
    from bench_exports import make_record  # the sibling script: on sys.path when this one runs

    for number in range(count):
        yield make_record(number)


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _ndjson(count: int, out: Path) -> dict[str, int]:
    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    with FileRegistry(out) as registry:
        writer = PartWriter(
            lambda key: (out / key).open("wb"), "", registry, kind="ndjson", max_rows=10**6, max_bytes=1 << 30
        )
        write_records(writer, records(count))
        return {"records": registry.records, "rows": registry.records}


def _pyarrow_alone(count: int, out: Path) -> dict[str, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_provider_ango.exports.tables.rows import split_record
    from airflow_provider_ango.exports.tables.schema import ANNOTATIONS, TASKS, table_schema

    columns: dict[str, dict[str, list[Any]]] = {
        table: {name: [] for name in table_schema(table).names} for table in (TASKS, ANNOTATIONS)
    }
    for position, record in enumerate(records(count), start=1):
        task, annotations = split_record(record, position)
        for name, values in columns[TASKS].items():
            values.append(task.get(name))
        for row in annotations:
            for name, values in columns[ANNOTATIONS].items():
                values.append(row.get(name))
    rows = 0
    for table, data in columns.items():
        schema = table_schema(table)
        whole = pa.table(
            {name: pa.array(values, type=schema.field(name).type) for name, values in data.items()},
            schema=schema,
        )
        pq.write_table(whole, out / f"{table}.parquet", compression="zstd")
        rows += whole.num_rows
    return {"records": count, "rows": rows}


def _parquet(count: int, out: Path) -> dict[str, int]:
    from airflow_provider_ango.exports.registry import FileRegistry
    from airflow_provider_ango.exports.tables.batches import Sizing
    from airflow_provider_ango.exports.tables.parquet import ParquetParts, write_table_parts
    from airflow_provider_ango.exports.tables.schema import TABLE_NAMES, table_schema

    sizing = Sizing()
    with FileRegistry(out) as first, FileRegistry(out) as second:
        registries = dict(zip(TABLE_NAMES, (first, second), strict=True))
        parts = {
            name: ParquetParts(
                lambda key, name=name: (out / f"{name}-{key}").open("wb"),
                "",
                registries[name],
                table_schema(name),
                sizing=sizing,
            )
            for name in TABLE_NAMES
        }
        counts = write_table_parts(parts, records(count), sizing, {})
    return {"records": counts.records, "rows": sum(counts.rows.values())}


def _parquet_s3(count: int) -> dict[str, int]:
    from airflow_provider_ango.exports.landing import Destination
    from airflow_provider_ango.exports.locations import bucket_root
    from airflow_provider_ango.exports.tables import write_parquet_tables

    hook, _ = bucket_root(f"s3://{BUCKET}", None, "bench")
    result = write_parquet_tables(records(count), Destination(hook, f"parquet-{count}/dt=2024-05-01/"))
    return {"records": result.records, "rows": sum(table.rows for table in result.tables)}


def _delta(count: int, mode: str) -> dict[str, int]:
    from airflow_provider_ango.exports.tables import AppTransaction, commit_delta_tables

    result = commit_delta_tables(
        records(count),
        f"s3://{BUCKET}/delta-{count}/",
        mode=mode,  # type: ignore[arg-type]
        transaction=AppTransaction(f"bench/{mode}/{uuid.uuid4()}", 1),  # every call a run of its own
    )
    assert all(table.committed for table in result.tables), result
    return {"records": result.records, "rows": sum(table.rows for table in result.tables)}


def _work(scenario: str, count: int, scratch: Path) -> dict[str, int]:
    if scenario == "ndjson":
        return _ndjson(count, scratch)
    if scenario == "pyarrow":
        return _pyarrow_alone(count, scratch)
    if scenario == "parquet":
        return _parquet(count, scratch)
    if scenario == "parquet-s3":
        return _parquet_s3(count)
    return _delta(count, scenario.removeprefix("delta-"))


def run_child(scenario: str, count: int, scratch: Path) -> dict[str, Any]:
    """Warm up (lazy imports, Arrow's memory pool, the hooks, delta-rs's runtime), then measure."""
    import airflow_provider_ango.exports.layouts
    import airflow_provider_ango.exports.tables.delta  # noqa: F401 - loaded before the baseline

    with tempfile.TemporaryDirectory(prefix="bench-warm-") as warm:
        if scenario == "delta-merge":
            _work("delta-append", WARM_UP, Path(warm))
        _work(scenario, WARM_UP, Path(warm))
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()  # the same honest baseline for every scenario
    before = rss_bytes()
    started = time.perf_counter()
    counts = _work(scenario, count, scratch)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {**counts, "seconds": seconds, "peak_above_start": max(peak - before, 0)}


def measure(scenario: str, count: int, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as scratch:
        output = subprocess.run(
            [sys.executable, __file__, "--child", scenario, str(count), scratch],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            env=env,
        ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """moto's S3 server in a child process, a bucket in it, and the environment that reaches it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from airflow_provider_ango.testing.servers import free_port, stop_process, wait_for_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=server)
        endpoint = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT"), timeout=30)  # noqa: S310
        connection = {
            "conn_type": "aws",
            "login": "bench",
            "password": "bench",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        with tempfile.TemporaryDirectory(prefix="bench-airflow-") as home:
            yield {
                **os.environ,
                "AIRFLOW_HOME": home,
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
                "AWS_EC2_METADATA_DISABLED": "true",
            }
    finally:
        stop_process(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, default=4, help="also run at records / SIZES")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scenario, count, scratch = args.child
        print(json.dumps(run_child(scenario, int(count), Path(scratch))))
        return

    mib = 1024 * 1024
    runs: list[tuple[int, dict[str, dict[str, Any]]]] = []
    with s3_server() as env:
        for count in sorted({max(1, args.records // args.sizes), args.records}):
            results = {scenario: measure(scenario, count, env) for scenario in SCENARIOS}
            for scenario, result in results.items():
                assert result["records"] == count, (scenario, result)
            runs.append((count, results))

    print("Landing an Ango export as lake tables (a record is ~3.3 KiB of JSON; *-s3 and delta-* to moto)")
    header = ("records", "scenario", "rows", "seconds", "rows/s", "rec/s", "peak MiB")
    print("{:>9} {:<14} {:>9} {:>8} {:>10} {:>9} {:>9}".format(*header))
    for count, results in runs:
        for scenario in SCENARIOS:
            result = results[scenario]
            print(
                f"{count:>9,} {scenario:<14} {result['rows']:>9,} {result['seconds']:>8.2f} "
                f"{result['rows'] / result['seconds']:>10,.0f} {count / result['seconds']:>9,.0f} "
                f"{result['peak_above_start'] / mib:>9.1f}"
            )
    count, results = runs[-1]
    speed = {name: count / result["seconds"] for name, result in results.items()}
    peak = {name: max(result["peak_above_start"], mib) / mib for name, result in results.items()}
    layouts = ("parquet", "parquet-s3", "delta-append", "delta-merge")
    lines = [
        (f"records/s, {name} / ndjson", f"{speed[name] / speed['ndjson']:.2f}x")
        for name in (*layouts, "pyarrow")
    ]
    lines += [
        (f"records/s, {name} / pyarrow alone", f"{speed[name] / speed['pyarrow']:.2f}x") for name in layouts
    ]
    lines += [
        (f"peak memory, pyarrow alone / {name}", f"{peak['pyarrow'] / peak[name]:.1f}x") for name in layouts
    ]
    for name in layouts:
        verdict = "within" if peak[name] <= BOUND_MIB else "OVER"
        lines.append(
            (f"peak memory, {name}", f"{peak[name]:.1f} MiB ({verdict} the {BOUND_MIB:.0f} MiB bound)")
        )
    if len(runs) > 1:
        small_count, small = runs[0]
        for name in (*layouts, "pyarrow"):
            grow = max(results[name]["peak_above_start"], mib) / max(small[name]["peak_above_start"], mib)
            lines.append((f"memory growth {small_count:,} -> {count:,} records, {name}", f"{grow:.1f}x"))
    print()
    print(f"At {count:,} records:")
    for label, value in lines:
        print(f"  {label + ':':<58}{value}")


if __name__ == "__main__":
    main()
