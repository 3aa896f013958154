"""Helpers of the BucketHook tests: seed objects through the store's own SDK client, fast (a thread
pool), and write one through the hook.

Also the child-process side of the memory test: ``python -m tests.hooks.bucket.helpers stream
<uri> <key> <MiB>`` streams an object through BucketHook and prints its peak memory as JSON. It runs
in a child so that moto and gcp-storage-emulator, which live in the test process and keep what they
are sent in memory, do not count in the measurement.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_ango.hooks.bucket import BucketHook

MiB = 1024 * 1024

# Every client below pools 10 HTTP connections; more threads would only queue for them.
SEED_THREADS = 10


def sdk_putter(kind: str, conn_id: str, bucket: str) -> Callable[[str, bytes], None]:
    """A function that writes one object with the SDK client of Airflow's hook for the store."""
    if kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=conn_id).get_conn()
        return lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data)
    if kind == "gcs":
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        handle = GCSHook(gcp_conn_id=conn_id).get_conn().bucket(bucket)
        return lambda key, data: handle.blob(key).upload_from_string(data)
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    container = WasbHook(wasb_conn_id=conn_id).blob_service_client.get_container_client(bucket)
    return lambda key, data: container.upload_blob(key, data, overwrite=True)


@contextmanager
def fast_gcs_seeding(kind: str) -> Iterator[None]:
    """Let gcp-storage-emulator take thousands of uploads in seconds rather than many minutes.

    The emulator (in this test process) re-serializes its whole metadata table to JSON after every
    write, so seeding n objects costs O(n^2): 2,000 uploads took 34 s, 10,000 would take many
    minutes. In memory mode that JSON is never read back, so skipping it while seeding changes
    nothing the tests observe. Only the emulator is touched; the code under test is not.
    """
    if kind != "gcs":
        yield
        return
    from gcp_storage_emulator.storage import Storage

    original = Storage._write_config_to_file
    Storage._write_config_to_file = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        Storage._write_config_to_file = original  # type: ignore[method-assign]


def write_object(hook: BucketHook, key: str, data: bytes) -> None:
    """Write one object through BucketHook.open_write (the streaming path, not a single put)."""
    with hook.open_write(key) as out:
        out.write(data)


def seed(kind: str, conn_id: str, bucket: str, keys: list[str], data: bytes = b"x") -> None:
    put = sdk_putter(kind, conn_id, bucket)
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        for _ in pool.map(lambda key: put(key, data), keys):
            pass


def seed_in_child(kind: str, conn_id: str, bucket: str, prefix: str, count: int) -> None:
    """Seed ``<prefix><00000..>.txt`` from a child process (its client work off this process's GIL)."""
    import os
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.hooks.bucket.helpers",
            "seed",
            kind,
            conn_id,
            bucket,
            prefix,
            str(count),
        ],
        env=os.environ.copy(),
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        timeout=600,
        check=True,
    )


def _rss_bytes(field: str) -> int | None:
    """VmRSS / VmHWM of this process from /proc (Linux), or None elsewhere."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with Path("/proc/self/clear_refs").open("w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


def measure_stream(uri: str, key: str, mib: int) -> dict[str, object]:
    """Write ``mib`` MiB through BucketHook.open_write, then read it back; peak memory of each.

    The data is made 1 MiB at a time (never held whole). Memory is measured in this process only:
    tracemalloc's peak of Python allocations, and the growth of the resident set (VmHWM after
    minus VmRSS before), each from a baseline taken after a warm-up write and read.
    """
    import gc
    import hashlib
    import tracemalloc

    from airflow_provider_ango.hooks.bucket import BucketHook

    hook = BucketHook.from_uri(uri)
    with hook.open_write("warm-up.bin", part_size=5 * 1024 * 1024) as out:  # imports, clients, pools
        out.write(b"w" * (6 * 1024 * 1024))
    hook.read_bytes("warm-up.bin")
    block = bytearray(1024 * 1024)
    result: dict[str, object] = {"bytes": mib * len(block)}

    for phase in ("write", "read"):
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        traced_base = tracemalloc.get_traced_memory()[0]
        rss_base = _rss_bytes("VmRSS") if _reset_peak_rss() else None
        started = time.perf_counter()
        digest = hashlib.sha256()
        if phase == "write":
            with hook.open_write(key) as out:
                for i in range(mib):
                    block[:8] = i.to_bytes(8, "big")
                    digest.update(block)
                    out.write(block)
        else:
            with hook.open_read(key) as stream:
                for chunk in iter(lambda: stream.read(1024 * 1024), b""):
                    digest.update(chunk)
        seconds = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] - traced_base
        tracemalloc.stop()
        rss_peak = _rss_bytes("VmHWM")
        result[phase] = {
            "sha256": digest.hexdigest(),
            "traced_peak": traced_peak,
            "rss_growth": None if rss_base is None or rss_peak is None else rss_peak - rss_base,
            "seconds": round(seconds, 2),
        }
    return result


def main(argv: list[str]) -> None:
    if argv[0] == "stream":
        _, uri, key, mib = argv
        print(json.dumps(measure_stream(uri, key, int(mib))))
        return
    _, kind, conn_id, bucket, prefix, count = argv
    started = time.perf_counter()
    seed(kind, conn_id, bucket, [f"{prefix}{i:05d}.txt" for i in range(int(count))])
    print(f"{time.perf_counter() - started:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
