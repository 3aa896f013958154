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
from typing import Any

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


# (setting, flag type or choices, help); each setting of EmulatorSettings is a flag of the same name.
SETTING_FLAGS: tuple[tuple[str, Any, str], ...] = (
    ("page_limit", _page_limit, "largest `limit` of a list: 100 (default, documented) or off"),
    ("page_limit_mode", PAGE_LIMIT_MODES, "above the cap: clamp (default) or reject with 400"),
    ("rate_limit", _rate_limit, "requests per organization, rolling: 100/min (default), N/s, off"),
    ("latency_ms", int, "hold every /v2 answer this many milliseconds (default 0)"),
    ("answer_shapes", ANSWER_SHAPES, "answers of the REST docs (rest, default) or the SDK's (sdk)"),
    ("batch_refs", BATCH_REFS, "cloud import batch references: names (default, REST docs) or ids"),
    ("batch_update", BATCH_UPDATES, 'create batch {"batches": [...]}: replace (default) or merge'),
    ("default_sort", str, "order of a list without sort: -createdAt (default, newest first)"),
    ("tie_order", TIE_ORDERS, "items whose sort keys tie: shuffle per request (default) or stable"),
    ("split_part_records", int, "records per file of a format=split export (default 1000)"),
)


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`EmulatorSettings` field (defaults: the strict ones)."""
    defaults = EmulatorSettings()
    group = parser.add_argument_group("limits and readings (defaults: Ango's REST documentation)")
    for name, kind, help_text in SETTING_FLAGS:
        default = defaults.limiter if name == "rate_limit" else getattr(defaults, name)
        typing = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        group.add_argument(f"--{name.replace('_', '-')}", default=default, help=help_text, **typing)
    group.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="answer 429 without a Retry-After header (the docs do not promise one)",
    )


def command_line_flags(settings: EmulatorSettings) -> list[str]:
    """The flags that start the emulator with ``settings`` (for a child process or a compose file)."""
    flags = []
    for name, _, _ in SETTING_FLAGS:
        value = settings.to_json()[name]
        flags.append(f"--{name.replace('_', '-')}={'off' if value is None else value}")
    return flags if settings.retry_after else [*flags, "--no-retry-after"]


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    names = [name for name, _, _ in SETTING_FLAGS] + ["retry_after"]
    return EmulatorSettings(**{name: getattr(args, name) for name in names})


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
