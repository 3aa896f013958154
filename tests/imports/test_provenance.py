"""imports/provenance.py through the operators, on a real bucket and the Ango emulator: the cross-run
case of issue 12 (two runs of one day with other params share a manifest key; clearing the first
run's import) imports nothing; so does a manifest of another project, and a shard another build
rewrote. A manifest without provenance is imported as it is; the example DAG's key is per run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.exceptions import AngoManifestProvenanceError
from tests.imports.helpers import Store, last_seq, run_context

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

DAG_ID = "nightly"
SHARED_KEY = "manifests/2024-05-01/assets.ndjson"  # the old default: no run id in the key


def context(store: Store, run_id: str) -> dict[str, Any]:
    start, end = store.interval_around_all()
    return {**run_context(start, end), "run_id": run_id, "dag": SimpleNamespace(dag_id=DAG_ID)}


def build(store: Store, run_id: str, folder: str, project_id: str) -> dict[str, Any]:
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    operator = AngoBuildImportOperator(
        task_id="build_manifest",
        source_uri=f"{store.bucket.uri}/incoming/{folder}/",
        manifest_uri=f"{store.bucket.uri}/{SHARED_KEY}",
        source_conn_id=store.bucket.conn_id,
        manifest_conn_id=store.bucket.conn_id,
        project_id=project_id,
    )
    result: dict[str, Any] = operator.execute(context(store, run_id))  # type: ignore[arg-type]
    return result


def import_assets(store: Store, run_id: str, project_id: str, manifest: Any) -> dict[str, Any]:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    operator = AngoImportAssetsOperator(
        task_id="import_assets",
        project_id=project_id,
        manifest=manifest,
        manifest_conn_id=store.bucket.conn_id,
        settle=0,
    )
    result: dict[str, Any] = operator.execute(context(store, run_id))  # type: ignore[arg-type]
    return result


def imported_ids(project_id: str) -> list[str]:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    return sorted(str(asset.external_id) for asset in AngoHubHook().iter_assets(project_id))


def test_clearing_the_first_runs_import_after_a_second_run_overwrote_its_manifest_imports_nothing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for name in ("a1.jpg", "a2.jpg"):
        s3_store.put(f"cam-a/{name}")
    for name in ("b1.jpg", "b2.jpg", "b3.jpg"):
        s3_store.put(f"cam-b/{name}")
    first = build(s3_store, "scheduled__2024-05-02", "cam-a", project["_id"])
    assert import_assets(s3_store, "scheduled__2024-05-02", project["_id"], first)["submitted"] == 2
    provenance = orjson.loads(s3_store.hook.read_bytes(first["provenance"].split("/", 3)[3]))
    assert provenance["run_id"] == "scheduled__2024-05-02"
    assert provenance["source_uri"].endswith("/incoming/cam-a/")
    assert provenance["project_id"] == project["_id"]
    assert provenance["window"] == first["window"]
    assert [shard["rows"] for shard in provenance["shards"]] == [2]

    # A second run of the same day with other params (another camera) writes the same key ...
    second = build(s3_store, "manual__2024-05-02T08:00:00+00:00", "cam-b", project["_id"])
    assert second["manifests"] == first["manifests"]
    before = last_seq(ango)

    # ... and the first run's import_assets is cleared: it refuses the second run's manifest.
    with pytest.raises(AngoManifestProvenanceError) as refused:
        import_assets(s3_store, "scheduled__2024-05-02", project["_id"], first)
    message = str(refused.value)
    assert "belongs to run 'manual__2024-05-02T08:00:00+00:00' of DAG 'nightly'" in message
    assert "this is run 'scheduled__2024-05-02'" in message
    assert "nothing was imported" in message
    assert "{{ run_id }}" in message
    assert ango.control.requests(since=before) == []  # not even a listing
    counts = ango.control.counts(project["_id"])
    assert counts["assets"] == 2
    assert imported_ids(project["_id"]) == ["a1.jpg", "a2.jpg"]

    # The second run itself imports its own manifest.
    assert (
        import_assets(s3_store, "manual__2024-05-02T08:00:00+00:00", project["_id"], second)["submitted"] == 3
    )


def test_a_manifest_built_for_another_project_imports_nothing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    other = ango.control.seed_project(name="other")
    s3_store.put("cam-a/a1.jpg")
    built = build(s3_store, "scheduled__2024-05-02", "cam-a", other["_id"])
    before = last_seq(ango)
    with pytest.raises(AngoManifestProvenanceError) as refused:
        import_assets(s3_store, "scheduled__2024-05-02", project["_id"], built)
    message = str(refused.value)
    assert f"was built for project '{other['_id']}', not '{project['_id']}'" in message
    assert ango.control.requests(since=before) == []
    assert ango.control.counts(project["_id"])["assets"] == 0


def test_a_shard_rewritten_after_its_provenance_imports_nothing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    s3_store.put("cam-a/a1.jpg")
    built = build(s3_store, "scheduled__2024-05-02", "cam-a", project["_id"])
    # Another build published its shard, then crashed before writing its own provenance.
    shard_key = built["manifests"][0].split("/", 3)[3]
    foreign = {"data": "https://cdn.example.com/x.jpg", "externalId": "foreign.jpg"}
    s3_store.hook.write_bytes(shard_key, orjson.dumps(foreign) + b"\n")
    with pytest.raises(AngoManifestProvenanceError, match="another build rewrote it since"):
        import_assets(s3_store, "scheduled__2024-05-02", project["_id"], built)
    assert ango.control.counts(project["_id"])["assets"] == 0


def test_a_manifest_without_provenance_is_imported_as_it_is(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    item = {"data": "https://cdn.example.com/own.jpg", "externalId": "own.jpg"}
    s3_store.put("unrelated.jpg")  # the run's context needs an interval; the manifest is the user's own
    s3_store.hook.write_bytes("mine/assets-00000.ndjson", orjson.dumps(item) + b"\n")
    uri = f"{s3_store.bucket.uri}/mine/assets-00000.ndjson"
    assert import_assets(s3_store, "scheduled__2024-05-02", project["_id"], [uri])["submitted"] == 1


def test_the_example_dags_manifest_key_is_the_runs_own() -> None:
    from datetime import datetime, timezone

    from airflow.sdk import DAG

    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    source = Path(__file__).resolve().parents[2] / "dags_examples" / "nightly_bucket_import.py"
    namespace: dict[str, Any] = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102  (our own example)
    dag: DAG = namespace["dag"]
    task = dag.get_task("build_manifest")
    assert isinstance(task, AngoBuildImportOperator)
    day = datetime(2025, 1, 1, tzinfo=timezone.utc)

    def context(run_id: str) -> Any:
        return {
            "params": {"staging_uri": "s3://ango-staging/imports"},
            "dag": dag,
            "data_interval_start": day,
            "data_interval_end": day + timedelta(days=1),
            "run_id": run_id,
        }

    rendered = {
        run_id: task.render_template(task.manifest_uri, context(run_id))
        for run_id in ("scheduled__2025-01-02T00:00:00+00:00", "manual__2025-01-02T08:00:00+00:00")
    }
    assert rendered == {
        run_id: f"s3://ango-staging/imports/ango_nightly_bucket_import/2025-01-01/{run_id}/assets.ndjson"
        for run_id in rendered
    }
    assert task.project_id == namespace["PROJECT_ID"]
