"""Import benchmark: requests and memory of AngoImportAssetsOperator's logic against a naive SDK-style import.

Run: ``.venv/bin/python benchmarks/bench_imports.py [--items N] [--project P] [--ids M]``
(``make bench`` runs it with the defaults). The Ango Hub emulator runs in a child process, so
that the memory measured (tracemalloc, Python allocations) is the client's alone.

Scenario: a project already holds ``P`` assets; a manifest of ``N`` items arrives, half of
them already in the project (a look-back re-read), each naming the batch ``nightly``. Both
approaches must leave every externalId exactly once.

* **provider**: :class:`~airflow_provider_ango.imports.assets.AssetImporter`: the manifest
  streamed twice, one paged listing of the whole project (``presence="project"``: the manifest is
  hand-made, without scope batches; ``bench_import_cost.py`` measures the scoped check), one
  project read for batches, chunks of 500;
* **SDK-style baseline**: what ``imerit-ango``'s ``upload_files_cloud`` does (the whole list in
  memory, one ``get_project`` per asset that names batches, one POST with every asset) plus
  the only exact dedupe its documented API allows, one ``externalId`` look-up per asset.

Then the set of externalIds alone, for ``M`` ids: a ``set`` of ``str`` against the provider's
sorted 64-bit fingerprints. The emulator plays the SDK's batch reading (ids), at its documented page
size of 100, with its rate limit off (and the client's pacing too); it counts the requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from emulator_process import start_emulator  # a sibling module: scripts run from benchmarks/

API_KEY = "bench-key"


def start_bench_emulator() -> tuple[subprocess.Popen[str], str]:
    """The emulator with the fixtures' settings, unpaced, reading batch references as ids."""
    from airflow_provider_ango.emulator.__main__ import command_line_flags
    from airflow_provider_ango.testing.ango import FIXTURE_SETTINGS

    flags = command_line_flags(FIXTURE_SETTINGS.with_changes(rate_limit=None, batch_refs="ids"))
    return start_emulator(API_KEY, flags)


def measure(run: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result, seconds, peak bytes allocated by Python while running)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = run()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def mib(value: float) -> str:
    return f"{value / (1024 * 1024):8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="manifest items (N)")
    parser.add_argument("--project", type=int, default=50_000, help="assets already in the project (P >= 2N)")
    parser.add_argument("--ids", type=int, default=1_000_000, help="ids for the id-set comparison (M)")
    args = parser.parse_args()
    count, existing = args.items, args.project
    if 2 * count > existing:
        parser.error("--project must be at least twice --items (half of 4x the items are already there)")

    home = Path(tempfile.mkdtemp(prefix="ango-bench-home-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        }
    )
    process, url = start_bench_emulator()
    try:
        os.environ["AIRFLOW_CONN_ANGO_DEFAULT"] = json.dumps(
            {"conn_type": "ango", "host": url, "password": API_KEY, "extra": {"requests_per_minute": 0}}
        )
        run_benchmark(url, count, existing, args.ids, home)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_benchmark(url: str, count: int, existing: int, id_count: int, home: Path) -> None:
    from airflow_provider_ango.emulator.control import EmulatorControl
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.imports.assets import AssetImporter, ImportSettings

    log = logging.getLogger("bench")
    log.setLevel(logging.WARNING)
    manifest = home / "manifest.ndjson"
    write_manifest(manifest, count, existing)

    def lines() -> Iterator[tuple[str, int, bytes]]:
        return manifest_lines(manifest)

    control = EmulatorControl(url)
    results: dict[str, dict[str, Any]] = {}
    for name in ("provider", "sdk-style"):
        project = control.seed_project(
            name=name,
            batches=["nightly"],
            synthetic_assets={"count": existing, "externalIdPrefix": "old-"},
        )
        project_id = project["_id"]
        hook = AngoHubHook()
        before = control.stats()["requests"]
        work: Callable[[], Any]
        if name == "provider":
            settings = ImportSettings(project_id=project_id, chunk_size=500, presence="project", settle=0)
            work = partial(AssetImporter(hook, settings, log).run, lines)
        else:
            work = partial(sdk_style_import, hook, project_id, manifest)
        _, seconds, peak = measure(work)
        hook.close()
        counts = control.counts(project_id)
        assert counts["duplicateExternalIds"] == {}, f"{name} made duplicates"
        assert counts["assets"] == existing + count // 2, counts
        requests = control.stats()["requests"] - before
        results[name] = {"requests": requests, "seconds": seconds, "peak": peak}

    ours, naive = results["provider"], results["sdk-style"]
    expected_requests = math.ceil(existing / 100) + 1 + math.ceil((count // 2) / 500)
    print(f"\nImport of {count:,} manifest items (half already among {existing:,} project assets)")
    print(f"{'':12}{'requests':>10}{'seconds':>10}{'peak Python memory':>22}")
    for name, row in results.items():
        print(f"{name:12}{row['requests']:>10,}{row['seconds']:>10.2f}{mib(row['peak']):>22}")
    print(
        f"ratios (sdk-style / provider): requests x{naive['requests'] / ours['requests']:.1f}, "
        f"time x{naive['seconds'] / ours['seconds']:.1f}, memory x{naive['peak'] / ours['peak']:.1f}"
    )
    print(
        f"provider requests = ceil(P/100) listing + 1 project read + ceil(new/500) posts = "
        f"{expected_requests} (measured {ours['requests']})"
    )
    # Memory stays flat as the manifest grows: the provider again with four times the items.
    bigger = home / "manifest-4x.ndjson"
    write_manifest(bigger, 4 * count, existing)
    project_id = control.seed_project(
        name="provider-4x",
        batches=["nightly"],
        synthetic_assets={"count": existing, "externalIdPrefix": "old-"},
    )["_id"]
    hook = AngoHubHook()
    settings = ImportSettings(project_id=project_id, chunk_size=500, presence="project", settle=0)
    _, seconds, peak = measure(lambda: AssetImporter(hook, settings, log).run(lambda: manifest_lines(bigger)))
    hook.close()
    print(
        f"provider with {4 * count:,} items: peak {mib(peak).strip()} "
        f"(x{peak / ours['peak']:.2f} for x4 items), {seconds:.2f} s"
    )
    compare_id_sets(id_count)


def write_manifest(path: Path, count: int, existing: int) -> None:
    """``count`` items; the even ones are already in the project (its synthetic ids old-0000000...)."""
    width = max(7, len(str(existing)))
    with path.open("wb") as out:
        for number in range(count):
            name = f"old-{number // 2:0{width}d}" if number % 2 == 0 else f"new-{number}"
            item = {
                "data": f"https://cdn.example.com/{name}.jpg",
                "externalId": name,
                "batches": ["nightly"],
                "contextData": {"bucket": "lake", "key": f"incoming/{name}.jpg", "size": 1234},
            }
            out.write(json.dumps(item).encode() + b"\n")


def manifest_lines(path: Path) -> Iterator[tuple[str, int, bytes]]:
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            yield path.name, number, line.rstrip(b"\n")


def sdk_style_import(hook: Any, project_id: str, manifest: Path) -> None:
    """The whole list in memory, a look-up and a project read per asset, one POST with everything."""
    items = [json.loads(line) for line in manifest.read_bytes().splitlines()]
    new = []
    for item in items:
        if hook.count_assets(project_id, {"externalId": item["externalId"]}):
            continue
        if item.get("batches"):
            batches = hook.get_project(project_id).batch_ids_by_name()
            item["batches"] = [batches[batch] for batch in item["batches"]]
        new.append(item)
    if new:
        hook.import_cloud_assets(project_id, new, chunk_size=len(new))


def compare_id_sets(id_count: int) -> None:
    from airflow_provider_ango.imports.fingerprints import FingerprintSet

    def ids() -> Iterator[str]:
        return (f"s3://lake/incoming/2024/05/01/camera-{n % 97}/frame-{n:09d}.jpg" for n in range(id_count))

    def plain() -> set[str]:
        return set(ids())

    def compact() -> FingerprintSet:
        return FingerprintSet(ids()).freeze()

    rows = []
    for name, build in (("set[str]", plain), ("fingerprints", compact)):
        tracemalloc.start()
        built = build()
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((name, kept, peak))
        del built
    print(f"\nexternalId sets for {id_count:,} ids (~50 characters each)")
    print(f"{'':14}{'kept':>14}{'per id':>10}{'peak while building':>22}")
    for name, kept, peak in rows:
        print(f"{name:14}{mib(kept):>14}{kept / id_count:>8.1f} B{mib(peak):>22}")
    kept_ratio, peak_ratio = rows[0][1] / rows[1][1], rows[0][2] / rows[1][2]
    print(f"ratio (set[str] / fingerprints): kept x{kept_ratio:.1f}, peak x{peak_ratio:.1f}")


if __name__ == "__main__":
    main()
