"""Seed objects into a bucket through the store's own SDK client, fast (a thread pool).

Runs in the test process, or as ``python -m tests.storage._bucket_helpers`` in a child process so
that the client's work does not share the GIL with emulators running inside the test process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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


def seed(kind: str, conn_id: str, bucket: str, keys: list[str], data: bytes = b"x") -> None:
    put = sdk_putter(kind, conn_id, bucket)
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        for _ in pool.map(lambda key: put(key, data), keys):
            pass


def main(argv: list[str]) -> None:
    kind, conn_id, bucket, prefix, count = argv
    started = time.perf_counter()
    seed(kind, conn_id, bucket, [f"{prefix}{i:05d}.txt" for i in range(int(count))])
    print(f"{time.perf_counter() - started:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
