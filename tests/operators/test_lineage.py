"""OpenLineage: each operator, run against the emulators, reports exactly what it read and wrote.

The facets are read the way Airflow's OpenLineage listener reads them (``ExtractorManager``, which
calls ``get_openlineage_facets_on_complete``), and the expected namespaces and names are written
out here from the buckets and the emulator's address, not taken from the operators' XCom.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import pytest

from airflow_provider_ango.testing.servers import AZURITE_ACCOUNT
from tests.exports.helpers import land_op, make_dag, run_context, seed_labeled, trigger_op
from tests.imports.helpers import Store, build
from tests.imports.helpers import run_context as import_context

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
Pairs = list[tuple[str, str]]


def lineage(operator: Any) -> tuple[Pairs, Pairs]:
    """(inputs, outputs) as (namespace, name), through the OpenLineage provider's extractor."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    found = ExtractorManager().extract_metadata(
        SimpleNamespace(run_id="lineage_test"), operator, TaskInstanceState.SUCCESS, SimpleNamespace()
    )
    return (
        [(dataset.namespace, dataset.name) for dataset in found.inputs],
        [(dataset.namespace, dataset.name) for dataset in found.outputs],
    )


def namespace(bucket: TestBucket) -> str:
    """OpenLineage's namespace of a bucket, as Airflow's S3, GCS and Azure providers write it."""
    if bucket.kind == "s3":
        return f"s3://{bucket.name}"
    if bucket.kind == "gcs":
        return f"gs://{bucket.name}"
    return f"wasbs://{bucket.name}@{AZURITE_ACCOUNT}.blob.core.windows.net"


def ango_namespace(ango: AngoEmulator) -> str:
    return f"ango://{urlsplit(ango.url).netloc}"


def test_importing_the_provider_imports_no_openlineage() -> None:
    code = textwrap.dedent(
        """
        import sys
        import airflow_provider_ango.operators.imports, airflow_provider_ango.operators.exports
        import airflow_provider_ango.lineage, airflow_provider_ango.links
        loaded = [
            name for name in sys.modules
            if name.split(".")[0] == "openlineage"
            or name.startswith("airflow.providers.common.compat.openlineage")
            # Airflow's configuration reads every provider's get_provider_info; nothing else.
            or (name.startswith("airflow.providers.openlineage.") and not name.endswith(".get_provider_info"))
        ]
        print(sorted(loaded))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_nothing_is_reported_before_a_run() -> None:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    operator = AngoImportAssetsOperator(task_id="import", project_id="p", manifest="s3://b/m.ndjson")
    assert lineage(operator) == ([], [])


# -- the import job -------------------------------------------------------------------------------
def test_build_reads_the_source_prefix_and_writes_the_manifest_shards(store: Store) -> None:
    store.put("cam/a.jpg")
    store.put("cam/b.jpg")
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    operator = AngoBuildImportOperator(
        task_id="build",
        source_uri=store.source_uri,
        manifest_uri=store.manifest_uri("run"),
        source_conn_id=store.bucket.conn_id,
        manifest_conn_id=store.bucket.conn_id,
        max_manifest_rows=1,
    )
    result = operator.execute(import_context(*store.interval_around_all()))  # type: ignore[arg-type]
    assert result["counts"]["items"] == 2
    space = namespace(store.bucket)
    assert lineage(operator) == (
        [(space, "incoming")],
        [(space, "manifests/run/assets-00000.ndjson"), (space, "manifests/run/assets-00001.ndjson")],
    )


def test_import_reads_the_shards_and_writes_the_project(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    for key in ("a.jpg", "b.jpg", "c.jpg"):
        s3_store.put(key)
    built = build(s3_store, "run", *s3_store.interval_around_all(), max_manifest_rows=2)
    space = namespace(s3_store.bucket)
    shards = [(space, "manifests/run/assets-00000.ndjson"), (space, "manifests/run/assets-00001.ndjson")]

    def run(dry_run: bool) -> Any:
        operator = AngoImportAssetsOperator(
            task_id="import",
            project_id=project["_id"],
            manifest=built,
            manifest_conn_id=s3_store.bucket.conn_id,
            settle=0,
            dry_run=dry_run,
        )
        operator.execute(import_context(None, None))  # type: ignore[arg-type]
        return operator

    # A dry run reads the manifest and changes nothing: no output.
    assert lineage(run(dry_run=True)) == (shards, [])
    assert ango.control.counts(project["_id"])["assets"] == 0
    assert lineage(run(dry_run=False)) == (shards, [(ango_namespace(ango), project["_id"])])
    assert ango.control.counts(project["_id"])["assets"] == 3


def test_labels_read_the_given_files_and_folders_and_write_the_project(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.operators.imports import AngoImportLabelsOperator

    with AngoHubHook() as hook:
        hook.import_cloud_assets(
            project["_id"], [{"data": "https://cdn.example.com/a.jpg", "externalId": "a.jpg"}]
        )
    box = {"schemaId": "car", "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4}}
    s3_store.hook.write_bytes("preds/day/a.ndjson", orjson.dumps({"externalId": "a.jpg", "tools": [box]}))
    s3_store.hook.write_bytes("single.json", b"[]")
    bucket = s3_store.bucket.uri
    operator = AngoImportLabelsOperator(
        task_id="labels",
        project_id=project["_id"],
        source=[f"{bucket}/preds/", f"{bucket}/single.json"],
        source_conn_id=s3_store.bucket.conn_id,
    )
    assert operator.execute(import_context(None, None))["submitted"] == 1  # type: ignore[arg-type]
    space = namespace(s3_store.bucket)
    assert lineage(operator) == (
        [(space, "preds"), (space, "single.json")],
        [(ango_namespace(ango), project["_id"])],
    )


# -- the export job -------------------------------------------------------------------------------
def test_trigger_reads_the_project_and_land_moves_the_zip_to_the_partition(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg", "b.jpg"])
    dag = make_dag()
    context = run_context(run_id="manual__lineage")
    trigger = trigger_op(project["_id"], f"{bucket.uri}/staging", dag=dag)
    staged = trigger.execute(context)
    space = namespace(bucket)
    zip_name = "staging/ango_export_test/manual__lineage/export.zip"
    assert lineage(trigger) == ([(ango_namespace(ango), project["_id"])], [(space, zip_name)])

    land = land_op(staged, f"{bucket.uri}/lake/dt=2024-05-01/", dag=dag)
    assert land.execute(context)["records"] == 2
    assert lineage(land) == ([(space, zip_name)], [(space, "lake/dt=2024-05-01")])


@pytest.mark.parametrize(
    ("layout", "tables"),
    [
        ("delta", ["lake/tasks", "lake/annotations"]),
        ("parquet", ["lake/tasks/dt=2024-05-01", "lake/annotations/dt=2024-05-01"]),
    ],
)
def test_table_landings_report_each_table(
    layout: str,
    tables: list[str],
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    dag = make_dag()
    context = run_context(run_id=f"manual__{layout}")
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging", dag=dag).execute(context)
    land = land_op(staged, f"{bucket.uri}/lake/dt=2024-05-01/", layout=layout, dag=dag)
    land.execute(context)
    space = namespace(bucket)
    zip_name = f"staging/ango_export_test/manual__{layout}/export.zip"
    assert lineage(land) == ([(space, zip_name)], [(space, name) for name in tables])


def test_an_empty_interval_reports_the_project_and_the_partition_only(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    from tests.exports.helpers import START

    bucket = new_bucket("gcs")
    project = seed_labeled(ango, ["a.jpg"])
    dag = make_dag()
    context = run_context(START, START, run_id="scheduled__empty")
    trigger = trigger_op(project["_id"], f"{bucket.uri}/staging", incremental=True, dag=dag)
    staged = trigger.execute(context)
    assert staged["empty"] is True
    assert lineage(trigger) == ([(ango_namespace(ango), project["_id"])], [])
    land = land_op(staged, f"{bucket.uri}/lake/dt=2024-05-01/", dag=dag)
    land.execute(context)
    assert lineage(land) == ([], [(namespace(bucket), "lake/dt=2024-05-01")])
