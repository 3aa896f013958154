"""Bucket write benchmark: peak memory of BucketHook's streamed write against a read-all baseline.

Run: ``.venv/bin/python benchmarks/bench_bucket_write.py [--mib N] [--stores s3,gcs,azure]``
(``make bench`` runs it with the defaults).

A local file of ``N`` MiB is put into a bucket on an emulator over loopback, two ways:

* **provider**: ``shutil.copyfileobj(file, BucketHook.open_write(key))``: S3 multipart upload,
  GCS resumable upload, Azure staged blocks, one 8 MiB part at a time;
* **baseline**: what a DAG does without it: ``data = file.read()``, then the Airflow hook's own
  one-shot upload (``S3Hook.load_bytes``, ``GCSHook.upload(data=...)``, ``WasbHook.upload``).

Each scenario runs in a fresh child process (the emulators run in this one and keep what they
are sent, so they must not count). Reported: the child's peak resident memory above its size just
before the upload (VmHWM after a reset, Linux; it counts C allocations too), and the peak of
Python allocations (tracemalloc). The run is repeated at ``N / 4`` MiB to show how each grows.
Azure is skipped when Node.js or Azurite is missing (``make setup`` installs Azurite).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONN_IDS = {"s3": "aws_default", "gcs": "google_cloud_default", "azure": "wasb_default"}


# -- child: one upload, measured -------------------------------------------------------------------


def _status(field: str) -> int:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _baseline_upload(kind: str, bucket: str, key: str, source: Path) -> None:
    data = source.read_bytes()  # the whole file in memory, as a naive task does
    if kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        S3Hook(aws_conn_id=DEFAULT_CONN_IDS[kind]).load_bytes(data, key=key, bucket_name=bucket, replace=True)
    elif kind == "gcs":
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        GCSHook(gcp_conn_id=DEFAULT_CONN_IDS[kind]).upload(bucket_name=bucket, object_name=key, data=data)
    else:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        WasbHook(wasb_conn_id=DEFAULT_CONN_IDS[kind]).upload(bucket, key, data, overwrite=True)


def child(scenario: str, kind: str, uri: str, source: Path) -> dict[str, Any]:
    from airflow_provider_ango.hooks.bucket import BucketHook

    hook = BucketHook.from_uri(uri)
    hook.write_bytes("warm-up", b"x")  # imports and clients, outside the measurement
    key = f"{scenario}-{uuid.uuid4().hex[:8]}.bin"
    tracemalloc.start()
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # VmHWM := VmRSS
    before = _status("VmRSS")
    started = time.perf_counter()
    if scenario == "provider":
        with source.open("rb") as src, hook.open_write(key) as out:
            shutil.copyfileobj(src, out, MiB)
    else:
        _baseline_upload(kind, hook.bucket, key, source)
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1]
    peak = _status("VmHWM") - before
    size = next(obj.size for obj in hook.iter_objects(key))
    if size != source.stat().st_size:
        raise RuntimeError(f"{key}: wrote {size} bytes of {source.stat().st_size}")
    return {"rss": peak, "traced": traced, "seconds": seconds}


# -- parent: emulators, data, the table ------------------------------------------------------------


def _make_source(directory: Path, mib: int) -> Path:
    path = directory / f"source-{mib}.bin"
    block = bytearray(os.urandom(MiB))
    with path.open("wb") as out:
        for i in range(mib):
            block[:8] = i.to_bytes(8, "big")
            out.write(block)
    return path


def _start_stores(stack: ExitStack, kinds: list[str], env: dict[str, str]) -> dict[str, str]:
    """Start the emulators, create a bucket in each; returns {kind: bucket URI}."""
    from airflow_provider_ango.testing.servers import (
        AZURITE_ACCOUNT,
        EmulatorUnavailableError,
        run_azurite,
        run_gcs,
        run_moto,
    )

    starters = {"s3": run_moto, "gcs": run_gcs, "azure": run_azurite}
    uris: dict[str, str] = {}
    for kind in kinds:
        try:
            emulator = stack.enter_context(starters[kind]())
        except EmulatorUnavailableError as exc:
            print(f"  {kind}: skipped ({exc})")
            continue
        env.update(emulator.env)
        env[f"AIRFLOW_CONN_{DEFAULT_CONN_IDS[kind].upper()}"] = emulator.connection_json()
        os.environ.update(env)
        uris[kind] = _create_bucket(kind, f"bench-{uuid.uuid4().hex[:12]}", AZURITE_ACCOUNT)
    return uris


def _create_bucket(kind: str, name: str, azure_account: str) -> str:
    """Create the bucket through Airflow's hook for the store; returns its URI."""
    if kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        S3Hook(aws_conn_id=DEFAULT_CONN_IDS[kind]).create_bucket(bucket_name=name)
        return f"s3://{name}"
    if kind == "gcs":
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        GCSHook(gcp_conn_id=DEFAULT_CONN_IDS[kind]).create_bucket(bucket_name=name)
        return f"gs://{name}"
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    WasbHook(wasb_conn_id=DEFAULT_CONN_IDS[kind]).create_container(name)
    return f"wasb://{name}@{azure_account}"


def _run_child(env: dict[str, str], scenario: str, kind: str, uri: str, source: Path) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, "--child", scenario, kind, uri, str(source)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"{scenario} on {kind} failed:\n{answer.stderr[-3000:]}")
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the larger file (MiB)")
    parser.add_argument("--stores", default="s3,gcs,azure")
    parser.add_argument(
        "--child", nargs=4, metavar=("SCENARIO", "KIND", "URI", "SOURCE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        scenario, kind, uri, source = args.child
        print(json.dumps(child(scenario, kind, uri, Path(source))))
        return

    with tempfile.TemporaryDirectory(prefix="bench-bucket-") as tmp, ExitStack() as stack:
        home = Path(tmp) / "airflow"
        home.mkdir()
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONPATH": str(ROOT),
        }
        os.environ.update(env)
        uris = _start_stores(stack, [kind.strip() for kind in args.stores.split(",") if kind.strip()], env)
        sizes = sorted({max(1, args.mib // 4), args.mib})
        sources = {mib: _make_source(Path(tmp), mib) for mib in sizes}
        print(
            f"{'store':<6} {'MiB':>5} {'provider RSS':>13} {'baseline RSS':>13} {'ratio':>7} "
            f"{'provider py':>12} {'baseline py':>12} {'ratio':>7}"
        )
        for kind, uri in uris.items():
            for mib in sizes:
                ours = _run_child(env, "provider", kind, uri, sources[mib])
                naive = _run_child(env, "baseline", kind, uri, sources[mib])
                print(
                    f"{kind:<6} {mib:>5} {ours['rss'] / MiB:>10.1f} MiB {naive['rss'] / MiB:>9.1f} MiB "
                    f"{naive['rss'] / max(ours['rss'], 1):>6.1f}x "
                    f"{ours['traced'] / MiB:>8.1f} MiB {naive['traced'] / MiB:>8.1f} MiB "
                    f"{naive['traced'] / max(ours['traced'], 1):>6.1f}x"
                )
        print("ratio = baseline peak / provider peak (higher: the provider uses that many times less memory)")


if __name__ == "__main__":
    main()
