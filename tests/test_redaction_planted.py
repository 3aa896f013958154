"""No secret in any message or log line: distinctive secrets planted in every connection form (an Ango
API key, an S3 key pair, a MinIO ``user:password@`` endpoint, an Azure account key, a SAS token), the
three jobs and their error paths run through the public operators, and logs, XCom, rendered template
fields, trigger kwargs and events, and exceptions (with their chained causes) are scanned.

Logs: every record of the provider's own loggers at DEBUG, every other record (httpx, httpcore,
boto, azure) at INFO (Airflow's default level), and what the task loggers print to stdout/stderr.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.testing.servers import (
    LOOPBACK,
    azurite_command,
    free_port,
    stop_process,
    wait_for_port,
)
from airflow_provider_ango.testing.triggers import first_event
from tests.imports.helpers import CATEGORY_SCHEMA, png

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.servers import StoreEmulator

pytestmark = pytest.mark.emulator

API_KEY = "ango-key-Planted-" + secrets.token_hex(8)
S3_KEY_ID = "AKIAPLANTED" + secrets.token_hex(4).upper()
S3_SECRET = "s3-secret-Planted-" + secrets.token_hex(8)
MINIO_PASSWORD = "minio-pw-Planted-" + secrets.token_hex(6)
AZURE_ACCOUNT = "plantedacct"
AZURE_KEY = base64.b64encode(b"azure-key-Planted-" + secrets.token_bytes(24)).decode()
UTC = timezone.utc


class Scan:
    """Everything a run left behind that a person could read, searched for the planted secrets."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        if isinstance(value, BaseException):
            value = "".join(traceback.format_exception(value))  # the causes a task log prints
        elif not isinstance(value, str):
            value = json.dumps(value, default=repr)
        self.texts.append((where, value))

    def found(self) -> list[str]:
        return [
            f"{name} in {where}: ...{text[max(0, text.find(secret) - 80) : text.find(secret) + 40]}..."
            for where, text in self.texts
            for name, secret in self.values.items()
            if secret and secret in text
        ]


@pytest.fixture
def planted_azurite() -> Iterator[dict[str, str]]:
    """An Azurite of its own, whose only account has a key made for this test."""
    port = free_port()
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{AZURE_ACCOUNT}:{AZURE_KEY}"}
    try:
        command = azurite_command(port)
    except Exception as error:  # Azurite missing: the plugin's rule decides
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"Azurite unavailable in CI: {error}")
        pytest.skip(f"Azurite unavailable: {error}")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process=process)
        yield {"endpoint": f"http://{LOOPBACK}:{port}/{AZURE_ACCOUNT}"}
    finally:
        stop_process(process)


@pytest.fixture
def connections(
    ango: AngoEmulator,
    s3_emulator: StoreEmulator,
    planted_azurite: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    ango.control.add_key(key=API_KEY)
    endpoint = s3_emulator.endpoint.replace("http://", f"http://minio-user:{MINIO_PASSWORD}@")
    blob_endpoint = planted_azurite["endpoint"]
    sas = generate_account_sas(
        AZURE_ACCOUNT,
        AZURE_KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    forms = {
        "ANGO_PLANTED": {"conn_type": "ango", "host": ango.url, "password": API_KEY},
        "MINIO_PLANTED": {
            "conn_type": "aws",
            "login": S3_KEY_ID,
            "password": S3_SECRET,
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        },
        "AZURE_KEY_PLANTED": {
            "conn_type": "wasb",
            "extra": {
                "connection_string": f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};"
                f"AccountKey={AZURE_KEY};BlobEndpoint={blob_endpoint};"
            },
        },
        "AZURE_SAS_PLANTED": {
            "conn_type": "wasb",
            "extra": {"connection_string": f"BlobEndpoint={blob_endpoint};SharedAccessSignature={sas}"},
        },
    }
    for name, form in forms.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(form))
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    return {"sas_signature": signature, "sas_signature_decoded": _unquote(signature)}


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def ctx(run_id: str = "scheduled__planted", **more: Any) -> dict[str, Any]:
    from types import SimpleNamespace

    start = datetime.now(UTC) - timedelta(hours=1)
    return {
        "data_interval_start": start,
        "data_interval_end": start + timedelta(hours=2),
        "run_id": run_id,
        "dag": SimpleNamespace(dag_id="planted"),
        "ti": SimpleNamespace(try_number=1),
        "params": {},
        **more,
    }


def rendered(operator: Any, context: dict[str, Any]) -> dict[str, Any]:
    operator.render_template_fields(context)
    return {name: getattr(operator, name) for name in operator.template_fields}


def attempt(scan: Scan, where: str, action: Callable[[], Any]) -> Any:
    """Run an action expected to fail; its exception (with causes) is scanned."""
    try:
        result = action()
    except Exception as error:  # every failure is what this scans
        scan.add(where, error)
        return error
    scan.add(where, result)
    return result


def test_no_planted_secret_reaches_logs_xcom_templates_triggers_or_errors(
    ango: AngoEmulator,
    connections: dict[str, Any],
    fernet_key: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.operators.exports import AngoLandExportOperator, AngoTriggerExportOperator
    from airflow_provider_ango.operators.imports import (
        AngoBuildImportOperator,
        AngoImportAssetsOperator,
        AngoImportLabelsOperator,
    )
    from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor
    from airflow_provider_ango.sensors.stage import AngoTaskStageSensor
    from airflow_provider_ango.triggers.exports import AngoExportTrigger

    scan = Scan(
        {
            "API key": API_KEY,
            "S3 key id": S3_KEY_ID,
            "S3 secret": S3_SECRET,
            "MinIO password": MINIO_PASSWORD,
            "Azure account key": AZURE_KEY,
            "SAS signature": connections["sas_signature"],
            "SAS signature (decoded)": connections["sas_signature_decoded"],
        }
    )
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="airflow_provider_ango")
    caplog.set_level(logging.DEBUG, logger="airflow.task")
    # Airflow 3.3 sets httpx to WARNING; the finding was with httpx at INFO. httpcore at DEBUG too.
    caplog.set_level(logging.INFO, logger="httpx")
    for name in ("httpcore.connection", "httpcore.http11"):
        caplog.set_level(logging.DEBUG, logger=name)
    project = ango.control.seed_project(name="planted", category_schema=CATEGORY_SCHEMA, workflow=["Label"])
    project_id = project["_id"]

    # -- the import job on MinIO (key pair + user:password@ endpoint) and on Azure (key, SAS) ----------
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    S3Hook(aws_conn_id="minio_planted").create_bucket(bucket_name="planted")
    WasbHook(wasb_conn_id="azure_key_planted").create_container("planted")
    minio = BucketHook.from_uri("s3://planted", "minio_planted")
    for name in ("a.png", "b.png"):
        minio.write_bytes(f"incoming/{name}", png(4, 3))
    labels = [{"externalId": "a.png", "classifications": [{"schemaId": "note", "answer": "ok"}]}]
    minio.write_bytes("preds/labels.ndjson", b"\n".join(orjson.dumps(item) for item in labels) + b"\n")
    context = ctx()
    build = AngoBuildImportOperator(
        task_id="build_manifest",
        source_uri="s3://planted/incoming/",
        manifest_uri="s3://planted/manifests/{{ run_id }}/assets.ndjson",
        source_conn_id="minio_planted",
        manifest_conn_id="minio_planted",
        project_id=project_id,
        image_dimensions=True,
        ango_conn_id="ango_planted",
    )
    scan.add("build rendered fields", rendered(build, context))
    built = build.execute(context)  # type: ignore[arg-type]
    scan.add("build XCom", built)
    scan.add("manifest", minio.read_bytes(built["manifests"][0].removeprefix("s3://planted/")).decode())
    importer = AngoImportAssetsOperator(
        task_id="import_assets",
        project_id=project_id,
        manifest=built,
        manifest_conn_id="minio_planted",
        ango_conn_id="ango_planted",
    )
    scan.add("import rendered fields", rendered(importer, context))
    imported = importer.execute(context)  # type: ignore[arg-type]
    assert imported["submitted"] == 2
    scan.add("import XCom", imported)
    labeler = AngoImportLabelsOperator(
        task_id="labels",
        project_id=project_id,
        source="s3://planted/preds/labels.ndjson",
        source_conn_id="minio_planted",
        ango_conn_id="ango_planted",
    )
    scan.add("labels XCom", labeler.execute(context))  # type: ignore[arg-type]
    waiting = AngoAssetsImportedSensor(
        task_id="wait",
        project_id=project_id,
        manifest=built,
        manifest_conn_id="minio_planted",
        ango_conn_id="ango_planted",
    )
    trigger = waiting.trigger(waiting.check(), time.time() + 60)
    scan.add("imports trigger kwargs", trigger.serialize())
    scan.add("imports trigger event", asyncio.run(first_event(trigger)).payload)
    for conn_id in ("azure_key_planted", "azure_sas_planted"):
        azure = BucketHook.from_uri(f"wasb://planted@{AZURE_ACCOUNT}", conn_id)
        azure.write_bytes(f"{conn_id}/in/c.png", png(2, 2))
        azure_build = AngoBuildImportOperator(
            task_id="build_azure",
            source_uri=f"wasb://planted@{AZURE_ACCOUNT}/{conn_id}/in/",
            manifest_uri=f"wasb://planted@{AZURE_ACCOUNT}/{conn_id}/m/assets.ndjson",
            source_conn_id=conn_id,
            manifest_conn_id=conn_id,
            image_dimensions=True,
        )
        azure_built = azure_build.execute(context)  # type: ignore[arg-type]
        scan.add(f"{conn_id} build XCom", azure_built)
        shard = azure_built["manifests"][0].split(f"@{AZURE_ACCOUNT}/", 1)[1]
        scan.add(f"{conn_id} manifest (the URLs sent to Ango)", azure.read_bytes(shard).decode())

    # -- the export job: deferred request, sealed link, staging and landing on MinIO ---------------
    ango.control.act(project_id, action="submit")
    export = AngoTriggerExportOperator(
        task_id="trigger_export",
        project_id=project_id,
        staging_uri="s3://planted/staging",
        staging_conn_id="minio_planted",
        ango_conn_id="ango_planted",
        stages=["Complete"],
        deferrable=True,
    )
    scan.add("export rendered fields", rendered(export, context))
    with pytest.raises(TaskDeferred) as deferred:
        export.execute(context)  # type: ignore[arg-type]
    _classpath, kwargs = deferred.value.trigger.serialize()
    scan.add("export trigger kwargs", kwargs)
    event = asyncio.run(first_event(AngoExportTrigger(**kwargs))).payload
    scan.add("export trigger event", event)
    from airflow_provider_ango.exports.sealing import unseal_url

    sealed = unseal_url(event["sealed_url"])
    assert sealed is not None
    scan.values["staged export URL signature"] = sealed.get_secret_value().split("Signature=", 1)[1]
    signed = AngoHubHook(ango_conn_id="ango_planted").request_export(project_id).get_secret_value()
    scan.values["export URL signature"] = signed.split("Signature=", 1)[1]
    staged = export.execute_complete(context, event)  # type: ignore[arg-type]
    scan.add("export XCom", staged)
    land = AngoLandExportOperator(
        task_id="land_export",
        source=staged,
        destination_uri="s3://planted/lake/dt={{ ds }}/",
        staging_conn_id="minio_planted",
        destination_conn_id="minio_planted",
        emit_asset=False,
    )
    scan.add("land rendered fields", rendered(land, {**context, "ds": "2024-05-01"}))
    scan.add("land XCom", land.execute(context))  # type: ignore[arg-type]
    stage = AngoTaskStageSensor(
        task_id="wait_stage",
        project_id=project_id,
        stage="Complete",
        ango_conn_id="ango_planted",
        deferrable=True,
        min_tasks=10,
    )
    with pytest.raises(TaskDeferred) as waiting_stage:
        stage.execute(context)  # type: ignore[arg-type]
    scan.add("stage trigger kwargs", waiting_stage.value.trigger.serialize())

    # -- error paths: each exception and its causes are scanned --------------------------------------
    missing_bucket = BucketHook.from_uri("s3://nope", "minio_planted")
    azure_sas = BucketHook.from_uri(f"wasb://nope@{AZURE_ACCOUNT}", "azure_sas_planted")
    azure_key = BucketHook.from_uri(f"wasb://planted@{AZURE_ACCOUNT}", "azure_key_planted")
    wrong = AngoHubHook(ango_conn_id="ango_planted")
    expired = signed.replace("Signature=", "Signature=00")

    def download_expired() -> bytes:
        with wrong.open_export_stream(expired) as chunks:
            return b"".join(chunks)

    attempt(scan, "S3 missing object", lambda: minio.read_bytes("nope.bin"))
    attempt(scan, "S3 missing bucket", lambda: list(missing_bucket.iter_objects()))
    attempt(scan, "S3 write to missing bucket", lambda: missing_bucket.write_bytes("k", b"x"))
    attempt(scan, "Azure SAS missing container", lambda: list(azure_sas.iter_objects()))
    attempt(scan, "Azure key missing object", lambda: azure_key.read_bytes("nope"))
    attempt(scan, "Ango 404", lambda: wrong.get_project("0" * 24))
    attempt(scan, "expired export link", download_expired)
    dead = {
        "conn_type": "aws",
        "login": S3_KEY_ID,
        "password": S3_SECRET,
        "extra": {
            "endpoint_url": f"http://minio-user:{MINIO_PASSWORD}@{LOOPBACK}:{free_port()}",
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
        },
    }
    os.environ["AIRFLOW_CONN_MINIO_DEAD"] = json.dumps(dead)
    try:
        down = BucketHook.from_uri("s3://planted", "minio_dead")
        attempt(scan, "S3 endpoint down", lambda: list(down.iter_objects()))
    finally:
        del os.environ["AIRFLOW_CONN_MINIO_DEAD"]

    # -- logs ------------------------------------------------------------------------------------------
    verbose = ("airflow_provider_ango", "airflow.task", "httpcore")
    for record in caplog.records:
        if record.name.startswith(verbose) or record.levelno >= logging.INFO:
            scan.add(f"log {record.name}", record.getMessage())
    captured = capfd.readouterr()
    scan.add("stdout", captured.out)
    scan.add("stderr", captured.err)
    assert any(record.name == "httpx" for record in caplog.records)  # the scan saw httpx's lines
    assert scan.found() == []
