"""Concurrency benchmark: per-object storage steps serial beside concurrent, at 0, 20 and 100 ms a request.

Run: ``.venv/bin/python benchmarks/bench_concurrency.py [--objects N] [--sample S] [--concurrency C]
[--stores s3,gcs,azure] [--delays 0,20,100]`` (``make bench`` runs it with the defaults: 2,000, 100,
16, and 0, 20 and 100 ms).

Two jobs, on S3 (moto), GCS (gcp-storage-emulator) and Azure (Azurite), each store behind
:class:`~airflow_provider_ango.testing.proxy.LatencyProxy` (in a process of its own, see
:class:`ProxyProcess`) adding 0, 20 and then 100 ms to every request (the two ends of a cloud round
trip):

* **manifest**: ``AngoBuildImportOperator`` over ``N`` small PNGs with ``image_dimensions=True``
  (the listing, a header read per image, the manifest written and published);
* **landing**: :func:`~airflow_provider_ango.exports.landing.land` of an export of ``N`` assets in
  the ``split`` layout (a write, a copy and a delete per asset, the manifest, ``_SUCCESS``).

Each runs with ``max_concurrency=1`` (serial) and ``C``. The **bound** is what the added round trips
alone cost when ``C`` are in flight: ``requests x delay / C``, ``requests`` being what the proxy
counted in that very run. Serial runs take ``S`` objects and are scaled to ``N`` (a serial run costs
the same per object whatever ``N``; ``N`` serial at 20 ms would take minutes per store): the table
says so. Ratios printed with a delay: concurrent / bound (within 2x is the goal) and serial / concurrent
(at least 10x is the goal), and ``added / bound``, the time the delay added over the 0 ms run. The
**floor** is the least the run's CPU work takes here (:func:`cpu_floor`): where it exceeds the bound,
the machine, not the round trips, sets the pace, and the closing lines say so with the figures.

The emulators run in processes of their own, so their CPU is not this process's (moto and
gcp-storage-emulator would otherwise share its GIL), and the CPU seconds of both sides are printed:
on this 2-core machine the emulators' own work per request, not the round trips, is what a
concurrent run ends up waiting for (see the closing lines). gcp-storage-emulator rewrites its whole
metadata table as JSON after every write (O(n) per write, O(n^2) a run); in memory mode that JSON is
never read, so the launcher below skips it, as the tests' seeding does. Nothing of the provider is
changed for the benchmark.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

DELAYS_MS = "0,20,100"  # loopback, then the two ends of a cloud round trip (20-100 ms)
LOOPBACK = "127.0.0.1"
PROJECT = "bench-project"

# gcp-storage-emulator in its own process, serving connections on threads with a listen backlog of
# 128 (its http.server.HTTPServer takes one connection at a time, so behind the proxy it would wait
# out each held request in turn, and its backlog of 5 drops the SYNs of a 16-connection burst, each
# then retried after a second), and without the O(n) metadata dump after every write.
GCS_LAUNCHER = """
import http.server, sys, threading, types
import gcp_storage_emulator.server as emulator
from gcp_storage_emulator.storage import Storage
class Threaded(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
emulator.server = types.SimpleNamespace(HTTPServer=Threaded)
Storage._write_config_to_file = lambda self: None  # in memory mode this JSON is never read back
server = emulator.create_server(sys.argv[1], int(sys.argv[2]), in_memory=True)
server.start()
threading.Event().wait()
"""


@dataclass
class Server:
    """One emulator: where it listens, its process (for its CPU time), and how to connect through a proxy."""

    kind: str
    endpoint: str
    pid: int
    env: dict[str, str] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)


class ProxyProcess:
    """The latency proxy in a process of its own (``python -m ...testing.proxy``).

    In this process its event loop would take the client's GIL for every byte forwarded (0.7-0.8 ms
    of this process's CPU per request, measured on moto), a cost a real network does not put on the
    client. Its own CPU is counted with the store's: both are "not the client"."""

    def __init__(self, target: str, delay: float) -> None:
        command = [
            sys.executable,
            "-m",
            "airflow_provider_ango.testing.proxy",
            "--target",
            target,
            "--delay",
            str(delay),
        ]
        self.delay = delay
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.url = str(json.loads(self._process.stdout.readline())["url"])

    def via(self, url: str) -> str:
        from airflow_provider_ango.testing.proxy import via

        return via(self.url, url)

    @property
    def requests(self) -> int:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write("stats\n")
        self._process.stdin.flush()
        return int(json.loads(self._process.stdout.readline())["requests"])

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self._process.pid)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def emulator(kind: str) -> Iterator[Server]:
    from airflow_provider_ango.testing.servers import free_port, run_azurite, stop_process, wait_for_port

    if kind == "azure":
        with run_azurite() as azurite:
            pid = _azurite_pid(azurite.endpoint)
            yield Server(
                kind,
                azurite.endpoint,
                pid,
                {"connection_string": azurite.connection["extra"]["connection_string"]},
            )
        return
    port = free_port()
    if kind == "s3":
        command = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    else:
        command = [sys.executable, "-c", GCS_LAUNCHER, LOOPBACK, str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process=process)
        yield Server(kind, f"http://{LOOPBACK}:{port}", process.pid)
    finally:
        stop_process(process)


def _azurite_pid(endpoint: str) -> int:
    """The Azurite child listening on the endpoint's port (run_azurite keeps its process to itself)."""
    port = endpoint.rsplit(":", 1)[1].split("/", 1)[0]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"azurite" in b" ".join(command) and port.encode() in command:
                return int(entry.name)
    raise RuntimeError(f"no Azurite process found for port {port}")


def connect(server: Server, endpoint: str) -> tuple[str, str]:
    """Point the store's default connection (and GCS's emulator variable) at ``endpoint``.

    Returns the connection id and the URI scheme."""
    if server.kind == "s3":
        connection: dict[str, Any] = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(connection)
        return "aws_default", "s3://"
    if server.kind == "gcs":
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
        connection = {
            "conn_type": "google_cloud_platform",
            "extra": {"is_anonymous": True, "project": PROJECT},
        }
        os.environ["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"] = json.dumps(connection)
        return "google_cloud_default", "gs://"
    direct = server.env["connection_string"]
    proxied = direct.replace(f"BlobEndpoint={server.endpoint};", f"BlobEndpoint={endpoint};")
    os.environ["AIRFLOW_CONN_WASB_DEFAULT"] = json.dumps(
        {"conn_type": "wasb", "extra": {"connection_string": proxied}}
    )
    return "wasb_default", "wasb://"


def bucket_uri(kind: str, name: str) -> str:
    from airflow_provider_ango.testing.servers import AZURITE_ACCOUNT

    return (
        f"wasb://{name}@{AZURITE_ACCOUNT}"
        if kind == "azure"
        else f"{'s3' if kind == 's3' else 'gs'}://{name}"
    )


def create_bucket(kind: str, name: str) -> None:
    if kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        S3Hook(aws_conn_id="aws_default").create_bucket(bucket_name=name)
    elif kind == "gcs":
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        GCSHook(gcp_conn_id="google_cloud_default").create_bucket(bucket_name=name)
    else:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        WasbHook(wasb_conn_id="wasb_default").create_container(name)


def png(width: int, height: int) -> bytes:
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(header)) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 200


def seed_images(uri: str, folder: str, count: int) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook, ordered_map

    hook = BucketHook.from_uri(uri, max_concurrency=16)
    names = [f"{folder}/{number:05d}.png" for number in range(count)]
    for _ in ordered_map(
        lambda key: hook.write_bytes(key, png(100 + int(key[-9:-4]) % 50, 80)),
        names,
        max_concurrency=16,
        name_of=str,
    ):
        pass


def export_zip(directory: Path, count: int) -> Path:
    path = directory / f"export-{count}.zip"
    lines = (
        json.dumps(
            {"externalId": f"asset-{n:05d}.jpg", "task": {"taskId": f"t{n:05d}"}, "answer": {"tools": []}}
        )
        for n in range(count)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.ndjson", "\n".join(lines) + "\n")
    return path


@dataclass
class Figure:
    seconds: float
    requests: int
    client_cpu: float
    server_cpu: float
    proxy_cpu: float


def timed(run: Callable[[], Any], proxy: ProxyProcess, server: Server) -> Figure:
    before, cpu = proxy.requests, time.process_time()
    server_cpu, proxy_cpu = server.cpu_seconds(), proxy.cpu_seconds()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return Figure(
        seconds,
        proxy.requests - before,
        time.process_time() - cpu,
        server.cpu_seconds() - server_cpu,
        proxy.cpu_seconds() - proxy_cpu,
    )


def run_manifest(uri: str, size: int, concurrency: int, run: str) -> None:
    folder = f"images-{size}"
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    operator = AngoBuildImportOperator(
        task_id=f"build_{run}",
        source_uri=f"{uri}/{folder}/",
        manifest_uri=f"{uri}/manifests/{run}/assets.ndjson",
        image_dimensions=True,
        window_start=start,
        window_end=datetime.now(timezone.utc) + timedelta(days=1),
        max_concurrency=concurrency,
    )
    result = operator.execute({"data_interval_start": None, "data_interval_end": None})  # type: ignore[arg-type]
    assert result["counts"]["image"] == int(folder.rsplit("-", 1)[1]), result["counts"]


def run_landing(
    uri: str, zips: dict[int, Path], scratch: Path, size: int, concurrency: int, run: str
) -> None:
    zip_path = zips[size]
    from airflow_provider_ango.exports.landing import Destination, land
    from airflow_provider_ango.exports.locations import bucket_root

    bucket, prefix = bucket_root(f"{uri}/lake/{run}/", None, "bench")
    result = land(
        Destination(bucket, prefix),
        zip_path,
        layout="split",
        header={"bench": run},
        scratch_dir=str(scratch),
        max_concurrency=concurrency,
    )
    assert result.files == int(zip_path.stem.rsplit("-", 1)[1]), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--objects", type=int, default=2000, help="images of the manifest, assets of the landing"
    )
    parser.add_argument(
        "--sample", type=int, default=100, help="objects of the serial runs (scaled to --objects)"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stores", default="s3,gcs,azure")
    parser.add_argument("--delays", default=DELAYS_MS, help="milliseconds added per request, comma separated")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ango-bench-home-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",  # the operators' INFO lines would flood the table
            "AWS_EC2_METADATA_DISABLED": "true",  # loopback only
            "GCE_METADATA_HOST": f"{LOOPBACK}:9",
            "GCE_METADATA_IP": f"{LOOPBACK}:9",
            "NO_GCE_CHECK": "True",
        }
    )
    logging.basicConfig(level=logging.WARNING)
    for name in (
        "airflow_provider_ango",
        "airflow.task",
        "gcp_storage_emulator",
        "azure",
        "botocore",
        "urllib3",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)

    count, sample, concurrency = args.objects, args.sample, args.concurrency
    delays = [int(milliseconds) / 1000 for milliseconds in args.delays.split(",")]
    print(
        f"{count:,} objects a job, max_concurrency={concurrency}; serial runs on {sample} objects, "
        f"scaled x{count / sample:g}; the bound is requests x delay / {concurrency}"
    )
    header = (
        f"{'store':<6} {'job':<9} {'delay':>5} {'serial s':>9} {'conc. s':>8} {'requests':>8} {'bound s':>8} "
        f"{'floor s':>7} {'conc/bound':>10} {'added/bound':>11} {'serial/conc':>11} {'client cpu':>10} "
        f"{'store cpu':>9} {'proxy cpu':>9}"
    )
    print(header)
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ango-bench-") as scratch_name:
        scratch = Path(scratch_name)
        zips = {size: export_zip(scratch, size) for size in (count, sample)}
        for kind in args.stores.split(","):
            with ExitStack() as stack:
                server = stack.enter_context(emulator(kind))
                connect(server, server.endpoint)
                uri = bucket_uri(kind, "bench-concurrency")
                create_bucket(kind, "bench-concurrency")
                seed_images(uri, f"images-{count}", count)
                seed_images(uri, f"images-{sample}", sample)
                figures: dict[tuple[str, float, int], Figure] = {}
                for delay in delays:
                    proxy = ProxyProcess(server.endpoint, delay)
                    stack.callback(proxy.close)
                    connect(server, proxy.via(server.endpoint) if kind == "azure" else proxy.url)
                    tag = f"d{int(delay * 1000)}"
                    jobs: dict[str, Callable[[int, int, str], None]] = {
                        "manifest": partial(run_manifest, uri),
                        "landing": partial(run_landing, uri, zips, scratch),
                    }
                    for job, work in jobs.items():
                        serial = timed(partial(work, sample, 1, f"{job}-{tag}-serial"), proxy, server)
                        both = timed(partial(work, count, concurrency, f"{job}-{tag}-c"), proxy, server)
                        figures[job, delay, 1], figures[job, delay, concurrency] = serial, both
                        verdicts += report(
                            kind, job, delay, serial, both, count / sample, concurrency, figures
                        )
    print()
    for line in verdicts:
        print(line)


def report(
    kind: str,
    job: str,
    delay: float,
    serial: Figure,
    both: Figure,
    scale: float,
    concurrency: int,
    figures: dict[tuple[str, float, int], Figure],
) -> list[str]:
    serial_seconds = serial.seconds * scale
    bound = both.requests * delay / concurrency
    at_zero = figures.get((job, 0.0, concurrency))
    added = both.seconds - at_zero.seconds if at_zero is not None and delay else 0.0
    ratio = f"{both.seconds / bound:10.2f}" if bound else f"{'-':>10}"
    added_ratio = f"{added / bound:11.2f}" if bound else f"{'-':>11}"
    print(
        f"{kind:<6} {job:<9} {delay * 1000:>3.0f}ms {serial_seconds:>9.1f} {both.seconds:>8.2f} "
        f"{both.requests:>8} {bound:>8.2f} {cpu_floor(both):>7.2f} {ratio} {added_ratio} "
        f"{serial_seconds / both.seconds:>10.1f}x "
        f"{both.client_cpu:>9.1f}s {both.server_cpu:>8.1f}s {both.proxy_cpu:>8.1f}s",
        flush=True,
    )
    if not delay:
        return []
    within = both.seconds <= 2 * bound
    faster = serial_seconds >= 10 * both.seconds
    floor = cpu_floor(both)
    lines = [
        f"{kind} {job} at {delay * 1000:.0f} ms: concurrent {both.seconds:.2f} s = "
        f"{both.seconds / bound:.2f}x the bound {bound:.2f} s ({'within' if within else 'NOT within'} 2x); "
        f"{serial_seconds / both.seconds:.1f}x faster than serial ({'at least' if faster else 'NOT'} 10x)."
    ]
    if not (within and faster):
        lines.append(
            f"    why: the CPU work alone takes at least {floor:.2f} s here (client {both.client_cpu:.1f} s "
            f"on one GIL, emulator {both.server_cpu:.1f} s on one thread, proxy {both.proxy_cpu:.1f} s, "
            f"on two cores), against {bound:.2f} s of round trips: the run is "
            f"{both.seconds / max(floor, bound):.2f}x the larger of the two, and the {delay * 1000:.0f} ms "
            f"added cost {added:.2f} s over the 0 ms run. A cloud store's work is not on this machine."
        )
    return lines


def cpu_floor(figure: Figure) -> float:
    """The least time the run's CPU work can take on this machine.

    The client holds one GIL and each emulator serves on one thread (moto and gcp-storage-emulator
    under a GIL, Azurite on Node's event loop), so neither can go faster than its own CPU seconds;
    and all of it shares the machine's cores."""
    everything = figure.client_cpu + figure.server_cpu + figure.proxy_cpu
    return max(figure.client_cpu, figure.server_cpu, everything / (os.cpu_count() or 1))


if __name__ == "__main__":
    main()
