"""What the deployment tests share: the running stack, S3 through boto3, and the secret check."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx

from airflow_provider_ango.emulator.control import EmulatorControl
from airflow_provider_ango.testing.airflow_api import AirflowRestClient
from airflow_provider_ango.testing.deployment import AirflowDeployment, Component, poll

BUCKETS = ("ango-raw", "ango-staging", "ango-lake", "ango-predictions")  # as in docker/compose.yaml
NIGHTLY = "ango_nightly_bucket_import"
EXPORT = "ango_scheduled_export_to_lake"
READER = "ango_lake_partition_report"
PRELABEL = "ango_prelabel_then_export"
# A signed export URL's signature (the emulator's are hex HMACs), should one be printed whole.
SIGNATURE = re.compile(r"Signature=[0-9a-fA-F]{16,}")


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Stack:
    deployment: AirflowDeployment
    api: AirflowRestClient
    control: EmulatorControl
    ango_url: str
    api_key: str
    s3: Any  # a boto3 S3 client of moto
    default_project: str
    emulator: Component

    # -- storage ----------------------------------------------------------------------------
    def put(self, bucket: str, objects: dict[str, bytes]) -> datetime:
        """Write the objects (8 at a time); returns the newest LastModified moto gave them."""

        def put_one(item: tuple[str, bytes]) -> None:
            self.s3.put_object(Bucket=bucket, Key=item[0], Body=item[1])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put_one, objects.items()))
        listed = self.objects(bucket, next(iter(objects)).split("/")[0])
        return max(obj["LastModified"] for obj in listed if obj["Key"] in objects)

    def objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(page.get("Contents", []))
        return found

    def file_names(self, uri: str) -> dict[str, int]:
        """The objects directly under an ``s3://bucket/prefix/`` URI: name -> size."""
        bucket, prefix = uri.removeprefix("s3://").split("/", 1)
        return {obj["Key"].removeprefix(prefix): obj["Size"] for obj in self.objects(bucket, prefix)}

    def read(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    # -- Airflow ----------------------------------------------------------------------------
    def trigger_window(self, dag_id: str, start: datetime, end: datetime, conf: dict[str, Any]) -> str:
        """A manual run over ``[start, end)``, as the DAG README says to import a window now: the
        interval explicit, the logical date the moment of the trigger (unique per run, not later
        than now)."""
        run = self.api.trigger(
            dag_id, conf=conf, logical_date=datetime.now(timezone.utc), data_interval=(start, end)
        )
        assert (parse_time(run["data_interval_start"]), parse_time(run["data_interval_end"])) == (start, end)
        return str(run["dag_run_id"])

    def unpause(self, dag_id: str) -> None:
        assert self.api.set_paused(dag_id, False)["is_paused"] is False

    def scheduled_run_on_unpause(self, dag_id: str) -> dict[str, Any]:
        """The run the scheduler creates when a daily DAG (catchup off) is unpaused: the last
        complete interval, yesterday 00:00 to today 00:00 UTC."""
        today = day_start(datetime.now(timezone.utc))
        run = poll(
            lambda: next((r for r in self.api.dag_runs(dag_id) if r["run_type"] == "scheduled"), None),
            timeout=60,
            what=f"the scheduled run {dag_id} gets when unpaused",
        )
        assert parse_time(run["data_interval_start"]) == today - timedelta(days=1)
        assert parse_time(run["data_interval_end"]) == today
        return run

    def single_xcom(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """The task's one XCom, its return value (a dict pushed whole, not one XCom per key)."""
        assert self.api.xcom_keys(dag_id, run_id, task_id) == ["return_value"]
        value: dict[str, Any] = self.api.xcom(dag_id, run_id, task_id)
        return value

    def assert_first_try(self, dag_id: str, run_id: str) -> None:
        """No task needed a retry (a flaky first attempt would hide behind one)."""
        tries = {task_id: ti["try_number"] for task_id, ti in self.api.task_instances(dag_id, run_id).items()}
        assert set(tries.values()) == {1}, tries

    def assert_no_secrets(self, runs: Iterable[tuple[str, str]]) -> None:
        """Neither the emulator's key nor a signed URL's signature in anything the API shows of these
        runs (every task's rendered fields, XComs and the logs of each try), nor in the output of
        the components (the scheduler's holds the task logs too)."""
        for dag_id, run_id in runs:
            for task_id, ti in self.api.task_instances(dag_id, run_id).items():
                where = f"{dag_id} {run_id} {task_id}"
                texts = {"rendered fields": json.dumps(ti["rendered_fields"])}
                for key in self.api.xcom_keys(dag_id, run_id, task_id):
                    texts[f"XCom {key}"] = json.dumps(self.api.xcom(dag_id, run_id, task_id, key))
                for try_number in range(1, ti["try_number"] + 1):
                    texts[f"log of try {try_number}"] = self.api.task_log(dag_id, run_id, task_id, try_number)
                assert any(texts.values())
                for what, text in texts.items():
                    assert self.api_key not in text, f"the API key is in the {what} of {where}"
                    assert not SIGNATURE.search(text), f"a signed URL is in the {what} of {where}"
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            assert self.api_key not in self.deployment.log_text(name), f"the API key is in the {name} output"

    def external_ids(self, project_id: str) -> list[str]:
        """Every asset's externalId, through the emulator's public API (as a user would list them)."""
        found: list[str] = []
        with httpx.Client(base_url=self.ango_url, headers={"apikey": self.api_key}, timeout=60) as ango:
            for page in itertools.count(1):
                params = {"page": page, "limit": 100, "sort": "_id"}  # a unique order: no page overlaps
                answer = ango.get(f"/v2/project/{project_id}/assets", params=params)
                answer.raise_for_status()
                assets = answer.json()["data"]["assets"]
                found.extend(asset["externalId"] for asset in assets)
                if len(assets) < 100:
                    return found
        return found  # not reached: itertools.count never ends

    # -- the emulator's request log -----------------------------------------------------------
    def last_seq(self) -> int:
        return max((entry["seq"] for entry in self.control.requests()), default=0)

    def batch_counts_since(self, seq: int, project_id: str) -> list[dict[str, Any]]:
        """Answered counts of a batch's tasks over all stages (the last request of a stage check)
        after request ``seq``."""
        return [
            entry
            for entry in self.control.requests(path_pattern=rf"/v2/project/{project_id}/tasks$", since=seq)
            if entry["method"] == "GET" and entry.get("status") == 200 and _counts_whole_batch(entry)
        ]


def _counts_whole_batch(entry: dict[str, Any]) -> bool:
    filters = json.loads(parse_qs(entry["query"]).get("filter", ["{}"])[0])
    return "batches" in filters and "stage" not in filters


def parse_time(text: str) -> datetime:
    """A time as the REST API writes it (ISO 8601, ``Z`` for UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
