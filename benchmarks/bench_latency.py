"""Latency proxy benchmark: S3 requests at 0 and 20 ms a round trip, serial beside concurrent, and the bound.

Run: ``.venv/bin/python benchmarks/bench_latency.py [--requests N] [--concurrency C]`` (``make bench``).

``N`` HEAD requests for one small object go to moto's S3 server through
:class:`airflow_provider_ango.testing.proxy.LatencyProxy`, one after another and then from ``C``
threads sharing one boto3 client (``max_pool_connections=C``). The proxy counts the requests it
held; the bound is ``requests x delay / concurrency``, the time the added round trips alone
take. The figure to read is the time *added* over the same run at 0 ms, against that bound:
serial, it is about the bound (the proxy adds what it says it adds); concurrent, it is at most
the bound and often less, because moto's own work (in this process, sharing its GIL) overlaps
the held requests. Either way the proxy holds connections independently, so requests in flight
overlap: it can stand in for a cloud store when storage steps are measured serial beside
concurrent.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_ango.testing.proxy import LatencyProxy
from airflow_provider_ango.testing.servers import run_moto

DELAYS = (0.0, 0.02)
BUCKET = "bench-latency"
KEY = "object.txt"


def s3_client(endpoint: str, pool: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=pool, retries={"max_attempts": 1})
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106  (moto's fixed test credentials)
        region_name="us-east-1",
        config=config,
    )


def run(proxy: LatencyProxy, requests: int, concurrency: int) -> tuple[float, int]:
    """(seconds, requests the proxy held) for ``requests`` HEADs from ``concurrency`` threads."""
    client = s3_client(proxy.url, concurrency)
    client.head_object(Bucket=BUCKET, Key=KEY)  # connect and sign once before the clock starts
    before = proxy.requests
    started = time.perf_counter()
    if concurrency == 1:
        for _ in range(requests):
            client.head_object(Bucket=BUCKET, Key=KEY)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda _: client.head_object(Bucket=BUCKET, Key=KEY), range(requests)))
    return time.perf_counter() - started, proxy.requests - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # loopback only
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    print(f"{args.requests} S3 HEAD requests through the latency proxy (moto on loopback)")
    print(
        f"{'delay ms':>8} {'threads':>7} {'seconds':>8} {'requests':>8} {'added s':>8} "
        f"{'bound s':>8} {'added / bound':>13}"
    )
    with run_moto() as moto:
        direct = s3_client(moto.endpoint, 1)
        direct.create_bucket(Bucket=BUCKET)
        direct.put_object(Bucket=BUCKET, Key=KEY, Body=b"small")
        figures: dict[tuple[float, int], float] = {}
        for delay in DELAYS:
            with LatencyProxy(target=moto.endpoint, delay=delay) as proxy:
                for threads in (1, args.concurrency):
                    seconds, held = run(proxy, args.requests, threads)
                    figures[delay, threads] = seconds
                    added = seconds - figures[DELAYS[0], threads]
                    bound = held * delay / threads
                    ratio = f"{added / bound:13.2f}" if bound else f"{'-':>13}"
                    print(
                        f"{delay * 1000:>8.0f} {threads:>7} {seconds:>8.2f} {held:>8} {added:>8.2f} "
                        f"{bound:>8.2f} {ratio}"
                    )
    delay = DELAYS[-1]
    print()
    print(
        f"At {delay * 1000:.0f} ms: concurrent ({args.concurrency} threads) is "
        f"{figures[delay, 1] / figures[delay, args.concurrency]:.1f}x faster than serial"
    )


if __name__ == "__main__":
    main()
