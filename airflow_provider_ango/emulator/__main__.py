"""``python -m airflow_provider_ango.emulator --port P --api-key K [--host H] [switches]``.

Prints one ready line with the URL, then serves until SIGINT or SIGTERM. In a container, where
other containers must reach it, ``--in-container --host 0.0.0.0 --public-url http://NAME:PORT``.

The defaults are Ango Hub as its REST documentation describes it: at most 100 items a page
(clamped), 100 requests a minute per organization (429 with Retry-After), answers in the REST
documentation's shapes, batch references of a cloud import read as names. The switches below
play the other readings, or lift a limit for a rehearsal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from airflow_provider_ango.emulator.app import DEFAULT_URL_EXPIRY_SECONDS, AngoEmulator
from airflow_provider_ango.emulator.settings import (
    ANSWER_SHAPES,
    BATCH_REFS,
    BATCH_UPDATES,
    PAGE_LIMIT_MODES,
    TIE_ORDERS,
    EmulatorSettings,
    RateLimit,
)


def _page_limit(text: str) -> int | None:
    if text.lower() == "off":
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1 or off")
    return value


def _rate_limit(text: str) -> RateLimit | None:
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`EmulatorSettings` field (defaults: the strict ones)."""
    defaults = EmulatorSettings()
    group = parser.add_argument_group("limits and readings (defaults: Ango's REST documentation)")
    group.add_argument(
        "--page-limit",
        type=_page_limit,
        default=defaults.page_limit,
        help="largest `limit` a list endpoint serves (default 100, documented; `off` lifts the cap)",
    )
    group.add_argument(
        "--page-limit-mode",
        choices=PAGE_LIMIT_MODES,
        default=defaults.page_limit_mode,
        help="above the cap: clamp to it (default; a short page that is not the last) or reject with 400",
    )
    group.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=defaults.limiter,
        help="requests per organization in a rolling window: 100/min (default, Standard plan), N/s, off",
    )
    group.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="answer 429 without a Retry-After header (the docs do not promise one)",
    )
    group.add_argument(
        "--latency-ms",
        type=int,
        default=defaults.latency_ms,
        help="hold every /v2 answer this many milliseconds (default 0)",
    )
    group.add_argument(
        "--answer-shapes",
        choices=ANSWER_SHAPES,
        default=defaults.answer_shapes,
        help="answers as the REST documentation shows them (rest, default) or as the SDK reads them (sdk)",
    )
    group.add_argument(
        "--batch-refs",
        choices=BATCH_REFS,
        default=defaults.batch_refs,
        help="a cloud import's batch references are batch names (default, REST docs) or batch ids (SDK)",
    )
    group.add_argument(
        "--batch-update",
        choices=BATCH_UPDATES,
        default=defaults.batch_update,
        help='create batch with {"batches": [...]}: replace the list (default) or merge into it',
    )
    group.add_argument(
        "--default-sort",
        default=defaults.default_sort,
        help="order of a list request that sends no sort (default -createdAt, newest first, documented)",
    )
    group.add_argument(
        "--tie-order",
        choices=TIE_ORDERS,
        default=defaults.tie_order,
        help="order of list items whose sort keys tie: shuffle per request (default) or stable",
    )
    group.add_argument(
        "--split-part-records",
        type=int,
        default=defaults.split_part_records,
        help="records per file of a format=split export (default 1000)",
    )


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    return EmulatorSettings(
        page_limit=args.page_limit,
        page_limit_mode=args.page_limit_mode,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        latency_ms=args.latency_ms,
        answer_shapes=args.answer_shapes,
        batch_refs=args.batch_refs,
        batch_update=args.batch_update,
        default_sort=args.default_sort,
        tie_order=args.tie_order,
        split_part_records=args.split_part_records,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_ango.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    add_settings_arguments(parser)
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or ANGO_EMULATOR_API_KEY) is required")
    try:
        emulator = AngoEmulator(
            settings=settings_from(args),
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
    print(f"Ango Hub emulator settings: {emulator.settings.to_json()}", file=sys.stderr, flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Ango Hub emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
