"""The three example DAGs, parsed and run end to end with ``dag.test()`` against the emulators.

Each run is checked where its outcome lives: assets, tasks and pre-labels in the Ango emulator,
files, ``_manifest.json`` and ``_SUCCESS`` in the buckets, Asset events in Airflow's database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from tests.dags.conftest import CATEGORY_SCHEMA, DAG_FILES, EXAMPLES, WORKFLOW, png, prediction, xcom

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

NewBucket = Callable[[str], "TestBucket"]
InstallDag = Callable[[str], ModuleType]

# Modules of the cloud SDKs (and the providers' hooks that import them) that parsing must not load.
HEAVY_MODULES = (
    "boto3",
    "botocore",
    "google.cloud.",
    "google.api_core",
    "google.auth",
    "azure",
    "airflow.providers.amazon.aws.hooks",
    "airflow.providers.google.cloud.hooks",
    "airflow.providers.microsoft.azure.hooks",
)

LAZY_IMPORT_PROBE = """
import json, runpy, sys
heavy = tuple(json.loads(sys.argv[1]))
report = {}
for path in sys.argv[2:]:
    runpy.run_path(path)
    report[path] = sorted(name for name in sys.modules if name.startswith(heavy))
print(json.dumps(report))
"""


def bucket_hook(uri: str, conn_id: str) -> BucketHook:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return BucketHook.from_uri(uri, conn_id)


def read_json(hook: BucketHook, key: str) -> Any:
    return orjson.loads(hook.read_bytes(key))


def landed(hook: BucketHook) -> dict[str, int]:
    """Every object under a partition, by key, with its size."""
    return {obj.key: obj.size for obj in hook.iter_objects()}


# -- parsing ------------------------------------------------------------------------------------
def test_example_dags_parse_in_a_dagbag_without_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLES, safe_mode=False)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "ango_lake_partition_report",
        "ango_nightly_bucket_import",
        "ango_prelabel_then_export",
        "ango_scheduled_export_to_lake",
    ]
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag is not None
        assert dag.doc_md, f"{dag_id} has no docstring"
        assert "ango" in dag.tags


def test_parsing_the_example_dags_imports_no_cloud_sdk() -> None:
    paths = [str(EXAMPLES / name) for name in DAG_FILES]
    result = subprocess.run(
        [sys.executable, "-c", LAZY_IMPORT_PROBE, json.dumps(HEAVY_MODULES), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {path: [] for path in paths}
