"""Run by the official Ango SDK's own interpreter (a throwaway venv): the SDK's calls, unchanged.

``python sdk_session.py setup URL KEY`` creates a project, its label set, a batch, a cloud upload,
lists assets, imports pre-labels and lists tasks; ``python sdk_session.py export URL KEY PROJECT``
runs ``exportV3`` in JSON and NDJSON. Each prints one JSON object of what the SDK returned. This
file imports only the SDK and the standard library: it is not part of the provider.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from imerit_ango.models.enums import ExportFormats
from imerit_ango.models.export_options import ExportOptions
from imerit_ango.models.label_category import (
    Classification,
    ClassificationCategory,
    LabelOption,
    Tool,
    ToolCategory,
)
from imerit_ango.models.task_filter import TaskFilter
from imerit_ango.sdk import SDK

COLOUR_SCHEMA_ID = "colour-radio"
RED_SCHEMA_ID = "colour-red"


def setup(sdk: SDK) -> dict[str, Any]:
    project = sdk.create_project("sdk-session", description="made by imerit-ango")["data"]["project"]
    project_id = project["_id"]
    sdk.create_label_set(
        project_id,
        tools=[ToolCategory(Tool.BoundingBox, title="cat", schemaId="cat-box")],
        classifications=[
            ClassificationCategory(
                Classification.Radio,
                title="colour",
                schemaId=COLOUR_SCHEMA_ID,
                options=[LabelOption("red", schemaId=RED_SCHEMA_ID), LabelOption("blue")],
            )
        ],
    )
    batch = sdk.create_batch(project_id, "nightly")["data"]["project"]
    assets = [
        {"data": f"https://example.com/images/img-{number}.jpg", "externalId": f"img-{number}"}
        for number in range(3)
    ]
    assets[0]["batches"] = ["nightly"]  # a batch name: the SDK swaps it for the batch's id
    upload = sdk.upload_files_cloud(project_id, assets, batches=["nightly"])
    listed = sdk.get_assets(project_id, page=1, limit=10)["data"]
    labels = [{"externalId": "img-1", "classifications": [{"schemaId": COLOUR_SCHEMA_ID, "answer": "red"}]}]
    imported = sdk.import_labels(project_id, labels)
    tasks = sdk.get_tasks(project_id, page=1, limit=10)["data"]
    in_label = sdk.get_tasks(project_id, task_filter=TaskFilter(stage=["Label"]))["data"]
    return {
        "project": project_id,
        "batch": batch,
        "upload": upload,
        "assets": listed,
        "labels": imported,
        "tasks": tasks,
        "tasksInLabel": in_label["total"],
        "categorySchema": sdk.get_project(project_id)["data"]["project"]["categorySchema"],
    }


def export(sdk: SDK, project_id: str) -> dict[str, Any]:
    as_json = sdk.exportV3(project_id)
    records, count = sdk.exportV3(project_id, ExportOptions(export_format=ExportFormats.NDJSON))
    return {"json": as_json, "ndjson": list(records), "ndjsonCount": count}


def main(argv: list[str]) -> int:
    step, url, key = argv[1], argv[2], argv[3]
    sdk = SDK(api_key=key, host=url)
    result = setup(sdk) if step == "setup" else export(sdk, argv[4])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
