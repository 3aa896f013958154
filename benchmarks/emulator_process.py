"""The Ango emulator in a process of its own, for the benchmarks that count its requests.

Its CPU is then not the benchmark's, and its key goes by environment variable
(``ANGO_EMULATOR_API_KEY``), never on a command line that ``ps`` shows.
"""

from __future__ import annotations

import os
import subprocess
import sys


def start_emulator(api_key: str, flags: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m airflow_provider_ango.emulator`` on a free port; (process, URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_ango.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ANGO_EMULATOR_API_KEY": api_key},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "ready at" not in line:
        process.terminate()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return process, line.rsplit(" ", 1)[-1].strip()
