"""Emulator benchmark: listings filtered by externalId and by batch cost the same in any project size.

Run: ``.venv/bin/python benchmarks/bench_emulator_listing.py [--small N] [--large N] [--repeat R]``
(``make bench`` runs it with the defaults: 10,000 and 1,000,000 assets).

Each project holds ``N - 1,000`` old assets and a batch ``night`` of 1,000 new ones (the shape of
a nightly import). Timed over HTTP on loopback, median of ``R`` requests, at the emulator's
documented page size (100): one page of the batch (``filters.batches``, ``sort=createdAt,_id``),
an asset by ``externalId``, tasks of the batch by the REST form (``batches=night``), and the
first page with the default sort. Printed: milliseconds in each project and the ratio large /
small, which the indexes keep near 1; and the time to seed the large project.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings

BATCH = 1_000


def seed(hub: AngoEmulator, size: int) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    project = hub.control.seed_project(
        name=f"p{size}",
        batches=["old", "night"],
        synthetic_assets=[
            {"count": size - BATCH, "batch": "old"},
            {"count": BATCH, "batch": "night", "externalIdPrefix": "night-"},
        ],
    )
    return project, time.perf_counter() - started


def queries(project: dict[str, Any], size: int) -> dict[str, tuple[str, dict[str, Any]]]:
    night = next(batch["_id"] for batch in project["batches"] if batch["name"] == "night")
    assets = f"/v2/project/{project['_id']}/assets"
    tasks = f"/v2/project/{project['_id']}/tasks"
    return {
        "assets of the batch, page 5": (
            assets,
            {"page": 5, "limit": 100, "sort": "createdAt,_id", "filters": json.dumps({"batches": [night]})},
        ),
        "asset by externalId": (
            assets,
            {"filters": json.dumps({"externalId": f"synthetic-{size // 2:07d}"})},
        ),
        "tasks of the batch (REST form)": (tasks, {"batches": "night", "limit": 100}),
        "first page, default sort": (assets, {"limit": 100}),
    }


def median_ms(call: Callable[[], httpx.Response], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - started)
        answer.raise_for_status()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    settings = EmulatorSettings(rate_limit="off")  # the documented page cap; the window is not timed here
    with (
        AngoEmulator(api_key="bench", settings=settings) as hub,
        httpx.Client(base_url=hub.url, headers={"apikey": "bench"}, timeout=120) as client,
    ):
        results: dict[int, dict[str, float]] = {}
        for size in (args.small, args.large):
            project, seconds = seed(hub, size)
            print(f"seeded {size:,} assets (with tasks) in {seconds:.2f} s")
            results[size] = {
                name: median_ms(lambda path=path, params=params: client.get(path, params=params), args.repeat)
                for name, (path, params) in queries(project, size).items()
            }
            hub.control.reset()
    print(f"\n{'median of ' + str(args.repeat):34} {args.small:>10,} {args.large:>12,}   ratio")
    for name, small_ms in results[args.small].items():
        large_ms = results[args.large][name]
        print(f"{name:34} {small_ms:8.2f}ms {large_ms:10.2f}ms   x{large_ms / small_ms:.2f}")
    print(f"(project size ratio x{args.large / args.small:,.0f})")


if __name__ == "__main__":
    main()
