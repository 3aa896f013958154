"""The writes of new content: cloud import of assets (201) and the import of labels.

The cloud import answers 201; under ``answer_shapes="rest"`` with the documented counts
``{"assets": {"assetsCreated", "tasksCreated", "preLabelsCount", "validPreLabelsCount"}}``, under
``"sdk"`` with the receipt the SDK ignores. Its batch references (``?batches=`` and each asset's
``batches``) are read as the ``batch_refs`` setting says.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ango.emulator.common import bad_request, required
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.imports import batch_reader, import_cloud_assets, parse_query_batches
from airflow_provider_ango.emulator.labels import import_labels

routes = Router()
ID = "([^/]+)"


@routes.add("POST", f"/v2/project/{ID}/cloud", group="assets", status=201)
def import_cloud(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise bad_request("priority must be an integer")
    upload_local = body.get("uploadLocal")
    if upload_local is not None and not isinstance(upload_local, (str, bool)):
        raise bad_request("uploadLocal must be null, a boolean or a string")
    with core.state.lock:
        project = core.state.project(project_id)
        read_batches = batch_reader(project, core.settings.batch_refs)
        query_batches = parse_query_batches(request.json_param("batches"), read_batches)
        receipt = import_cloud_assets(core.state, project, body.get("assets"), query_batches, read_batches)
    if not core.settings.rest_shapes:
        return {"assets": "Successfully created."}
    return {
        "assets": {
            "assetsCreated": receipt.assets_created,
            "tasksCreated": receipt.assets_created,
            "preLabelsCount": receipt.prelabels,
            "validPreLabelsCount": receipt.valid_prelabels,
        }
    }


@routes.add("POST", "/v2/import/labels", group="labels")
def import_label_content(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    project_id = required(body, "project", "project (the project id)")
    with core.state.lock:
        labelled = import_labels(core.state, core.state.project(project_id), body)
    if core.settings.rest_shapes:
        # All or nothing: every task named is labelled, so N and M agree when the answer is 200.
        return {"project": f"{labelled} / {labelled} tasks are labeled."}
    return {"message": "Labels imported", "tasks": labelled}
