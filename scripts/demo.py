"""`make demo`, first stage: start every emulator on loopback, show that each one answers, stop them.

Later stages run the three example DAGs (import, export to the lake, pre-label then export) here.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from contextlib import ExitStack

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.servers import EmulatorUnavailableError, run_azurite, run_gcs, run_moto


def answer_of(url: str, headers: dict[str, str] | None = None) -> str:
    """Status line of a GET on loopback: any HTTP answer, even 4xx, shows the server is up."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback URL we started)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"


def main() -> int:
    started = time.monotonic()
    with ExitStack() as stack:
        rows: list[tuple[str, str, str]] = []
        for name, starter in (("S3 (moto)", run_moto), ("GCS (gcp-storage-emulator)", run_gcs)):
            emulator = stack.enter_context(starter())
            rows.append((name, emulator.endpoint, answer_of(emulator.endpoint + "/")))
        try:
            azure = stack.enter_context(run_azurite())
            rows.append(("Azure Blob (Azurite)", azure.endpoint, answer_of(azure.endpoint + "?comp=list")))
        except EmulatorUnavailableError as exc:
            rows.append(("Azure Blob (Azurite)", "-", f"not started: {exc}"))
        ango = stack.enter_context(AngoEmulator(api_key="demo-key"))
        rows.append(
            (
                "Ango Hub (emulator)",
                ango.url,
                answer_of(ango.url + "/v2/listProjects?page=1&limit=1", {"apikey": "demo-key"}),
            )
        )
        width = max(len(row[0]) for row in rows)
        print("Emulators on loopback:")
        for name, endpoint, answer in rows:
            print(f"  {name:<{width}}  {endpoint:<45}  {answer}")
    print(f"All stopped after {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
