"""A templated stage list renders to what the user meant and the export asks Ango for exactly that."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
START = datetime(2024, 5, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("params", "stages", "sent"),
    [
        ({"stage": "Complete"}, "{{ params.stage }}", ["Complete"]),
        ({"stages": ["Review", "Complete"]}, "{{ params.stages }}", ["Review", "Complete"]),
        ({"stage": "Complete"}, ["{{ params.stage }}"], ["Complete"]),
    ],
)
def test_templated_stages_render_to_the_stages_and_the_export_runs(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    params: dict[str, Any],
    stages: Any,
    sent: list[str],
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_ango.operators.exports import AngoTriggerExportOperator

    bucket = new_bucket("s3")
    assets = [{"data": f"https://example.com/{n}.jpg", "externalId": f"img-{n}.jpg"} for n in range(3)]
    project = ango.control.seed_project(name="templated", assets=assets, workflow=["Label"])
    ango.control.act(project["_id"], action="submit")  # every task to Complete
    with DAG("ango_templated_stages", schedule=None, start_date=START, params=params):
        operator = AngoTriggerExportOperator(
            task_id="trigger_export",
            project_id=project["_id"],
            staging_uri=f"{bucket.uri}/staging",
            stages=stages,
            deferrable=False,
        )
    assert operator.stages == stages  # stored as given; rendered only when the task runs
    context: dict[str, Any] = {
        "params": params,
        "data_interval_start": START,
        "data_interval_end": START + timedelta(days=1),
        "run_id": "manual__templated",
    }
    operator.render_template_fields(context)  # type: ignore[arg-type]

    staged = operator.execute(context)  # type: ignore[arg-type]

    (request,) = ango.control.requests(path_pattern=r"^/v2/export")
    assert json.loads(request["queryParams"]["stage"]) == sent
    assert json.loads(staged["options"]["stage"]) == sent
    assert staged["bytes"] > 0
