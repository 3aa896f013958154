"""What checking a manifest whole before the import costs: time and memory, against the importer's own pass.

Run: ``.venv/bin/python benchmarks/bench_manifest_check.py [--items N]`` (``make bench`` runs it).

A manifest of ``N`` items (two shards and a provenance, as the build writes them) lies in an S3
bucket (moto, in this process). Measured, one after the other over the same shards:

* **baseline**: one streamed pass of the importer's reading, every line parsed and validated as
  an import item (what ``AssetImporter.scan`` does before it lists the project);
* **check**: :func:`~airflow_provider_ango.imports.checks.check_manifest`, the extra pass the
  import now runs first (the same validation, plus the shard's SHA-256 and the provenance).

Printed as the check's time relative to the baseline. (Memory is not printed: moto serves the
objects from this process, so a peak of Python allocations here would mostly be moto's.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def measure(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="manifest items (N)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ango-bench-home-"))
    os.environ.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})

    from airflow_provider_ango.testing.servers import run_moto

    with run_moto() as moto:
        os.environ.update(moto.env)
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = moto.connection_json()
        run_benchmark(args.items)


def run_benchmark(count: int) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.imports.builder import BuildRecord
    from airflow_provider_ango.imports.checks import ImportRun, check_line, check_manifest
    from airflow_provider_ango.imports.manifest import write_manifest
    from airflow_provider_ango.imports.sources import BucketFiles

    log = logging.getLogger("bench")
    S3Hook().create_bucket(bucket_name="bench")
    store = BucketHook.from_uri("s3://bench/")
    records = (
        BuildRecord(
            True,
            "image",
            {
                "data": f"https://cdn.example.com/img/{n:07d}.jpg",
                "externalId": f"img/{n:07d}.jpg",
                "batches": ["nightly"],
                "contextData": {"key": f"in/{n:07d}.jpg", "size": 1000 + n},
            },
        )
        for n in range(count)
    )
    provenance = {"build": "bench", "project_id": "p" * 24, "dag_id": "d", "run_id": "r", "task_id": "t"}
    written = write_manifest(
        records, store, "m/assets", max_bytes=None, max_rows=count // 2 + 1, log=log, provenance=provenance
    )
    uris = [store.uri_for(key) for key in written.shard_keys]
    files = BucketFiles()

    def baseline() -> int:
        valid = 0
        for _uri, _number, line in files.lines(uris):
            item, _reason = check_line(line)
            valid += item is not None
        return valid

    run = ImportRun("p" * 24, "d", "r")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    baseline()  # warm-up: the client and its connections are made once, outside both timings
    valid, base_seconds = measure(baseline)
    checked, check_seconds = measure(lambda: check_manifest(files, uris, run, "fail", log))
    assert valid == checked.lines == count
    size = sum(store.stat(key).size for key in written.shard_keys)  # type: ignore[union-attr]
    print(
        json.dumps(
            {
                "items": count,
                "manifest_mib": round(size / 2**20, 1),
                "baseline_seconds": round(base_seconds, 2),
                "check_seconds": round(check_seconds, 2),
                "check_vs_baseline": round(check_seconds / base_seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
