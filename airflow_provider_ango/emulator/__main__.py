"""``python -m airflow_provider_ango.emulator --port P --api-key K [--host H] [--url-expiry S]``.

Prints one ready line with the URL, then serves until SIGINT or SIGTERM. In a container, where
other containers must reach it, ``--in-container --host 0.0.0.0 --public-url http://NAME:PORT``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from airflow_provider_ango.emulator.app import DEFAULT_URL_EXPIRY_SECONDS, AngoEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_ango.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 picks a free one)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ANGO_EMULATOR_API_KEY"),
        help="API key clients must send (default: $ANGO_EMULATOR_API_KEY)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--url-expiry",
        type=float,
        default=DEFAULT_URL_EXPIRY_SECONDS,
        help="lifetime of signed export URLs in seconds (default 120000)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL clients use to reach the emulator, for the signed export links it hands out",
    )
    parser.add_argument(
        "--in-container",
        action="store_true",
        help="allow a non-loopback --host (only inside a container network, e.g. docker compose)",
    )
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or ANGO_EMULATOR_API_KEY) is required")
    try:
        emulator = AngoEmulator(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            url_expiry=args.url_expiry,
            public_url=args.public_url,
            in_container=args.in_container,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator.start()
    # The key is never printed; the ready line is what scripts wait for.
    print(f"Ango Hub emulator ready at {emulator.url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Ango Hub emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
