"""Import cost benchmark: Ango requests, and minutes at 100 requests a minute, of a nightly import.

Run: ``.venv/bin/python benchmarks/bench_import_cost.py [--night N] [--sizes 10000,100000,1000000]``
(``make bench`` runs it with the defaults). The Ango Hub emulator runs in child processes at its
documented page size (100); requests are counted by the emulator (``/_emulator/stats``), and the
minutes are what they cost at the Standard plan's 100 requests a minute. Three parts:

1. **One nightly import** of ``N`` new files (plus 1,000 files of the day before, read again by a
   look-back and already imported) into projects of 10,000, 100,000 and 1,000,000 assets (earlier
   nights of 10,000 each, in their scope batches): the old whole-project existence check
   (``presence="project"``) beside the scoped one (``presence="scope"``, the default).
2. **Issue 11's page sizes**, for a 100,000-asset project: the import and an import-sensor poke at
   page size 100 (measured) beside the old client at page size 1,000, whose figures are
   *computed* as the requests it made (its whole-project listing: ``ceil(P / 1000)`` GETs; then one
   project read and ``ceil(N / 500)`` POSTs).
3. **The client's rate limiter** against the emulator's limit scaled to 100 requests in 5 seconds (the
   same arithmetic as 100 a minute), 8 workers sharing one key: the rate the server sees, as a
   fraction of the allowed rate, and the 429s (none expected).

The emulator's rate limit is off in parts 1 and 2 (and the client's pacing too), so that the run
takes a couple of minutes; the request counts do not depend on pacing.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from emulator_process import start_emulator  # a sibling module: scripts run from benchmarks/

API_KEY = "bench-key"
DAY_SIZE = 10_000
LOOKBACK = 1_000
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
BUCKET, PREFIX = "camera-drops", "incoming/"
PER_MINUTE = 100  # the Standard plan
LIMITER_REQUESTS = 1_000
LIMITER_WORKERS = 8
#: The limiter's window, scaled from Ango's minute: long enough that one answer's latency per window
#: is a small share of it (at 1 s it is several per cent), short enough for a bench.
LIMITER_WINDOW = 5.0
LIMITER_BOUND = 0.95


def connection(url: str, extra: dict[str, Any]) -> str:
    return json.dumps({"conn_type": "ango", "host": url, "password": API_KEY, "extra": extra})


def minutes(requests: int) -> float:
    return requests / PER_MINUTE


# -- the night's manifest and the projects -------------------------------------------------------------
def scope_names(days: int) -> list[str]:
    from airflow_provider_ango.imports.scope import default_scope_prefix, scope_batch_name

    prefix = default_scope_prefix(BUCKET, PREFIX)
    return [scope_batch_name(prefix, T0 - timedelta(days=day)) for day in range(days)]


def tonight() -> str:
    from airflow_provider_ango.imports.scope import default_scope_prefix, scope_batch_name

    return scope_batch_name(default_scope_prefix(BUCKET, PREFIX), T0 + timedelta(days=1))


def write_night(path: Path, night: int) -> None:
    """The night of day 2, built as the build operator builds it (scope batches and all)."""
    from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder
    from airflow_provider_ango.imports.rules import ItemRules
    from airflow_provider_ango.imports.scope import default_scope_prefix, with_scope_batch
    from airflow_provider_ango.models.window import TimeWindow

    class Obj:
        def __init__(self, key: str, modified: datetime) -> None:
            self.key, self.size, self.etag, self.last_modified = key, 1, "e", modified

    earlier = [
        Obj(f"cam/prev-{n:07d}.jpg", T0 + timedelta(hours=23, seconds=n % 3600))
        for n in range(DAY_SIZE - LOOKBACK, DAY_SIZE)
    ]
    new = [Obj(f"cam/new-{n:07d}.jpg", T0 + timedelta(days=1, seconds=n % 80_000)) for n in range(night)]
    rules = with_scope_batch(
        ItemRules(prefix=PREFIX, bucket=BUCKET, external_id="{folder}/{stem}"),
        default_scope_prefix(BUCKET, PREFIX),
    )
    window = TimeWindow.half_open(T0 + timedelta(hours=18), T0 + timedelta(days=2))
    builder = ItemBuilder(
        rules, BuildOptions(), window, lambda key: f"https://cdn.example.com/{key}", _no_reads, _quiet()
    )
    with path.open("wb") as out:
        for record in builder.build([*earlier, *new]):
            assert record.ok, record.payload
            out.write(record.to_line() + b"\n")


def _no_reads(key: str, start: int, end: int | None) -> bytes:
    raise FileNotFoundError(key)


def _quiet() -> logging.Logger:
    log = logging.getLogger("bench")
    log.setLevel(logging.ERROR)
    return log


def manifest_lines(path: Path) -> Iterator[tuple[str, int, bytes]]:
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            yield path.name, number, line.rstrip(b"\n")


def seed(control: Any, size: int, with_tonight: bool = False) -> str:
    """``size // 10,000`` earlier nights of 10,000 assets in their scope batches; day 1's first."""
    names = scope_names(size // DAY_SIZE)
    specs = [{"count": DAY_SIZE, "batch": names[0], "externalIdPrefix": "cam/prev-"}]
    specs += [
        {"count": DAY_SIZE, "batch": name, "externalIdPrefix": f"old-{n}-"} for n, name in enumerate(names)
    ][1:]
    batches = [*names, tonight()] if with_tonight else names
    project = control.seed_project(name=f"p{size}", batches=batches, synthetic_assets=specs)
    return str(project["_id"])


class Counter:
    """Requests answered by an emulator between two readings."""

    def __init__(self, control: Any) -> None:
        self.control = control
        self.start = control.stats()["requests"]

    def read(self) -> int:
        return int(self.control.stats()["requests"]) - int(self.start)


# -- part 1 -----------------------------------------------------------------------------------------------
def import_night(control: Any, project_id: str, manifest: Path, presence: str) -> tuple[int, float, Any]:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.imports.assets import AssetImporter, ImportSettings

    counter = Counter(control)
    started = time.perf_counter()
    with AngoHubHook() as hook:
        settings = ImportSettings(project_id=project_id, presence=presence, settle=0)  # type: ignore[arg-type]
        counts = AssetImporter(hook, settings, _quiet()).run(lambda: manifest_lines(manifest))
    return counter.read(), time.perf_counter() - started, counts


def part_one(control: Any, manifest: Path, night: int, sizes: list[int]) -> dict[tuple[int, str], int]:
    requests: dict[tuple[int, str], int] = {}
    print(f"\n1. One nightly import of {night:,} new files (+{LOOKBACK:,} of the day before, read again)")
    heads = ("project assets", "whole project (old)", "scope batches (new)", "old / new")
    print(f"{heads[0]:>15} | {heads[1]:>24} | {heads[2]:>24} | {heads[3]:>9}")
    print(f"{'':>15} | {'requests':>10} {'minutes':>13} | {'requests':>10} {'minutes':>13} |")
    for size in sizes:
        row = {}
        for presence in ("project", "scope"):
            project_id = seed(control, size)
            count, _seconds, counts = import_night(control, project_id, manifest, presence)
            check = control.counts(project_id)
            assert check["duplicateExternalIds"] == {}, f"{presence} made duplicates"
            assert check["assets"] == size + night, check["assets"]
            assert (counts.submitted, counts.skipped_existing) == (night, LOOKBACK)
            requests[(size, presence)] = row[presence] = count
            control.reset()
        print(
            f"{size:>15,} | {row['project']:>10,} {minutes(row['project']):>13.1f} | "
            f"{row['scope']:>10,} {minutes(row['scope']):>13.1f} | {row['project'] / row['scope']:>8.1f}x"
        )
    new = [requests[(size, "scope")] for size in sizes]
    formula = 1 + DAY_SIZE // 100 + 1 + math.ceil(night / 500)
    print(
        f"new method: {min(new)}..{max(new)} requests across a {sizes[-1] // sizes[0]}x range of project "
        f"sizes (max / min = {max(new) / min(new):.3f}); formula 1 project read + ceil(day 1's "
        f"{DAY_SIZE:,} / 100) + 1 batch created + ceil({night:,} / 500) POSTs = {formula}"
    )
    return requests


# -- part 2 ------------------------------------------------------------------------------------------------
def part_two(control: Any, manifest: Path, night: int, measured: dict[tuple[int, str], int]) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.imports.fingerprints import FingerprintSet
    from airflow_provider_ango.imports.scope import ScopeCollector
    from airflow_provider_ango.imports.watch import ImportWatch, run_check

    size = 100_000
    old_page = 1_000
    if (size, "scope") not in measured:
        print("\n2. (skipped: 100,000 is not among --sizes)")
        return
    import_old = math.ceil(size / old_page) + 1 + math.ceil(night / 500)
    # The sensor: Ango has made 99% of tonight's tasks at the first poke, the rest by the second.
    project_id = seed(control, size, with_tonight=True)
    items = [json.loads(line) for line in manifest.read_bytes().splitlines()][LOOKBACK:]
    for item in items:
        item["batches"] = [tonight()]
    first_part = night - night // 100
    control.insert_assets(project_id, assets=items[:first_part])
    ids, scopes = FingerprintSet(), ScopeCollector()
    for item in items:
        ids.add(item["externalId"])
        scopes.add(item["batches"])
    watch = ImportWatch(scopes.scope(ids), margin=0)
    pokes = []
    with AngoHubHook() as hook:
        for landed in (items[first_part:], []):
            counter = Counter(control)
            summary = run_check(watch, hook, project_id, lambda limit: [])
            pokes.append((counter.read(), summary["found"]))
            if landed:
                control.insert_assets(project_id, assets=landed)
    assert pokes[1][1] == night, pokes
    control.reset()
    tasks_first = size + first_part
    poke_old_first = math.ceil(tasks_first / old_page)
    poke_old_later = math.ceil((size + night) / old_page)
    print(f"\n2. A {size:,}-asset project at page size 100 (measured) and the old 1,000 (computed)")
    print(f"{'':44} {'requests':>9} {'minutes':>8}")
    rows = [
        ("import, old client (page 1,000, whole project)", import_old),
        ("import, page 100, whole project", measured[(size, "project")]),
        ("import, page 100, scope batches (new)", measured[(size, "scope")]),
        ("sensor poke, old client (page 1,000), first", poke_old_first),
        ("sensor poke, old client (page 1,000), later", poke_old_later),
        ("sensor poke, page 100 (new), first", pokes[0][0]),
        ("sensor poke, page 100 (new), later", pokes[1][0]),
    ]
    for label, count in rows:
        print(f"{label:44} {count:>9,} {minutes(count):>8.2f}")
    print(
        f"old client's poke = ceil(project tasks / 1,000) every time; the new first poke lists tonight's "
        f"scope batch ({first_part:,} tasks), a later one only the {night - first_part} made since"
    )


# -- part 3 ------------------------------------------------------------------------------------------------
def paced_part(url: str, window: float) -> list[str]:
    """Part 3's lines (it runs first, while nothing else loads the machine, and prints last)."""
    from airflow_provider_ango.emulator.control import EmulatorControl
    from airflow_provider_ango.hooks.ango import AngoHubHook

    control = EmulatorControl(url)
    project_id = control.seed_project(name="small", assets=1)["_id"]
    control.clear_requests()
    before = control.stats()

    def worker(count: int) -> None:
        with AngoHubHook(ango_conn_id="ango_paced") as hook:
            for _ in range(count):
                hook.get_project(project_id)

    # As many workers as the connection lets in flight (8): each window's requests go out at once,
    # so what is measured is the limiter, not one request's latency times a hundred.
    started = time.perf_counter()
    with ThreadPoolExecutor(LIMITER_WORKERS) as pool:
        list(pool.map(worker, [LIMITER_REQUESTS // LIMITER_WORKERS] * LIMITER_WORKERS))
    seconds = time.perf_counter() - started
    stats = control.stats()
    limited = stats["rateLimited"] - before["rateLimited"]
    arrivals = sorted(_epoch(entry["at"]) for entry in control.requests())
    allowed = PER_MINUTE  # per (scaled) window
    per_window = _per_window(arrivals, window)
    control.close()
    # Requests per window as the server counted them, after the first window's burst: a slot is free
    # again one window after its answer, so each cycle costs a window plus an answer's latency, a
    # share the scaled window makes 60 times larger than the real one.
    steady = (len(arrivals) - allowed) / (arrivals[-1] - arrivals[allowed - 1]) * window
    fraction = steady / allowed
    latency = max(0.0, window * allowed / steady - window)
    real = 60.0 / (60.0 + latency)
    verdict = "met" if fraction >= LIMITER_BOUND else "NOT met"
    return [
        f"\n3. The client's limiter at {allowed} requests per {window:g} s (the Standard plan, scaled), "
        f"{LIMITER_WORKERS} workers",
        f"{len(arrivals):,} requests in {seconds:.1f} s, 429s: {limited}; {steady:.1f} requests per window "
        f"after the first = {fraction:.3f} of the allowed rate (bound {LIMITER_BOUND}: {verdict}); "
        f"whole windows from the first request held {min(per_window)}..{max(per_window)} "
        f"(median {statistics.median(per_window):g})",
        f"each window lost {latency * 1000:.0f} ms to answers; at the real 60 s window that is "
        f"{real:.4f} of the allowed rate",
    ]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _per_window(arrivals: list[float], window: float) -> list[int]:
    """Requests that arrived in each whole window from the first arrival (the last, partial, left out)."""
    first = arrivals[0]
    counts: dict[int, int] = {}
    for moment in arrivals:
        counts[int((moment - first) // window)] = counts.get(int((moment - first) // window), 0) + 1
    whole = int((arrivals[-1] - first) // window)
    return [counts.get(index, 0) for index in range(whole)] or [len(arrivals)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--night", type=int, default=10_000, help="new files of the night (N)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="project sizes, multiples of 10,000")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if any(size < DAY_SIZE or size % DAY_SIZE for size in sizes):
        parser.error("--sizes must be multiples of 10,000")

    home = Path(tempfile.mkdtemp(prefix="ango-bench-home-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        }
    )
    counting, counting_url = start_emulator(API_KEY, ["--rate-limit", "off"])
    paced, paced_url = start_emulator(API_KEY, ["--rate-limit", f"{PER_MINUTE}/{LIMITER_WINDOW:g}s"])
    try:
        os.environ["AIRFLOW_CONN_ANGO_DEFAULT"] = connection(
            counting_url, {"batch_refs": "names", "requests_per_minute": 0}
        )
        os.environ["AIRFLOW_CONN_ANGO_PACED"] = connection(
            paced_url,
            {"batch_refs": "names", "requests_per_minute": PER_MINUTE, "rate_window_seconds": LIMITER_WINDOW},
        )
        from airflow_provider_ango.emulator.control import EmulatorControl

        manifest = home / "night.ndjson"
        write_night(manifest, args.night)
        started = time.perf_counter()
        limiter_lines = paced_part(paced_url, LIMITER_WINDOW)
        with EmulatorControl(counting_url) as control:
            measured = part_one(control, manifest, args.night, sizes)
            part_two(control, manifest, args.night, measured)
        print("\n".join(limiter_lines))
        print(f"\n(benchmark ran {time.perf_counter() - started:.0f} s)")
    finally:
        for process in (counting, paced):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
