"""Storage emulators on loopback: moto (S3 / MinIO), gcp-storage-emulator (GCS) and Azurite (Azure Blob).

Each ``run_*`` function is a context manager that starts one emulator on 127.0.0.1 on a free port,
waits until it answers, yields a :class:`StoreEmulator` describing how to reach it (an Airflow
connection in its JSON form plus the environment variables the client libraries need) and stops it
on exit. They import no Airflow code, so the demo and users' own harnesses can use them too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"

# Azurite's development account: a public, documented constant of the emulator, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_VERSION = "3.37.0"

# Where `make setup` installs Azurite with npm (an ignored folder of the project).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AZURITE_MAIN = (
    PROJECT_ROOT / "tools" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
)


class EmulatorUnavailableError(RuntimeError):
    """An emulator cannot start on this machine (for example Node.js or Azurite is missing)."""


@dataclass(frozen=True)
class StoreEmulator:
    """How to reach one running storage emulator."""

    kind: str  # "s3" | "gcs" | "azure"
    endpoint: str  # base URL on loopback
    connection: dict[str, Any]  # Airflow connection in its JSON (env-var) form
    env: dict[str, str] = field(default_factory=dict)  # variables the SDK needs to find the emulator

    def connection_json(self) -> str:
        return json.dumps(self.connection)


def free_port() -> int:
    """A port that was free a moment ago; callers that spawn processes retry on a clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts TCP connections on the port, or fail with the reason."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmulatorUnavailableError(f"emulator process exited with code {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # readiness poll, bounded by the deadline
    raise EmulatorUnavailableError(f"nothing answered on {LOOPBACK}:{port} within {timeout:.0f}s")


@contextmanager
def run_moto(region: str = "us-east-1") -> Iterator[StoreEmulator]:
    """moto's S3 server in a thread of this process; also stands in for MinIO (custom endpoint)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        endpoint = f"http://{LOOPBACK}:{port}"
        connection = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": region},
        }
        env = {
            # Keep boto3 off the instance-metadata address: loopback only.
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": region,
        }
        yield StoreEmulator("s3", endpoint, connection, env)
    finally:
        server.stop()


@contextmanager
def run_gcs(project: str = "test-project") -> Iterator[StoreEmulator]:
    """gcp-storage-emulator in memory, in a thread of this process; GCSHook reaches it anonymously."""
    from gcp_storage_emulator.server import create_server

    server = create_server(LOOPBACK, 0, in_memory=True)
    server.start()
    try:
        port = int(server._api._httpd.server_address[1])  # the emulator exposes no accessor for it
        endpoint = f"http://{LOOPBACK}:{port}"
        connection = {
            "conn_type": "google_cloud_platform",
            "extra": {"is_anonymous": True, "project": project},
        }
        env = {
            "STORAGE_EMULATOR_HOST": endpoint,
            # google-auth must never probe the metadata server: point it at a closed loopback port.
            "GCE_METADATA_HOST": f"{LOOPBACK}:9",
            "GCE_METADATA_IP": f"{LOOPBACK}:9",
            "NO_GCE_CHECK": "True",
        }
        yield StoreEmulator("gcs", endpoint, connection, env)
    finally:
        server.stop()


def azurite_command(port: int, main_js: Path | None = None) -> list[str]:
    """The Azurite blob command line, or a clear error naming what is missing and the fix."""
    node = shutil.which("node")
    if node is None:
        raise EmulatorUnavailableError("Node.js is not on PATH; install Node 18+ to run the Azure Blob tests")
    main = main_js or Path(os.environ.get("ANGO_AZURITE_MAIN", DEFAULT_AZURITE_MAIN))
    if not main.is_file():
        raise EmulatorUnavailableError(f"Azurite is not installed at {main}; run `make setup` to install it")
    return [
        node,
        str(main),
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--silent",
        "--disableTelemetry",  # otherwise Azurite reaches out to the internet
    ]


@contextmanager
def run_azurite(main_js: Path | None = None, attempts: int = 5) -> Iterator[StoreEmulator]:
    """Azurite's blob service as a child process, retried on a port clash with a parallel run."""
    process: subprocess.Popen[bytes] | None = None
    port = 0
    last_error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(
            azurite_command(port, main_js),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_port(port, process=process)
            break
        except EmulatorUnavailableError as exc:
            last_error = exc
            stop_process(process)
            process = None
    if process is None:
        raise EmulatorUnavailableError(f"Azurite did not start after {attempts} attempts: {last_error}")
    try:
        endpoint = f"http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT}"
        connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
        )
        connection = {"conn_type": "wasb", "extra": {"connection_string": connection_string}}
        yield StoreEmulator("azure", endpoint, connection, {})
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process (killed after 10 s); one that has ended already is left as it is."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()
