"""Projects, their batches and metrics: ``/v2/listProjects``, ``/v2/project``, ``/v2/batches``, overview.

Create batch takes the SDK's ``{"name": n}`` (adds one batch) or the REST documentation's
``{"batches": [{"name", "_id"?}, ...]}``, which "updates batch definitions": under
``batch_update="replace"`` the list sent becomes the project's list (a batch left out is
removed, an entry without ``_id`` is a new batch), under ``"merge"`` entries with ``_id`` rename
that batch, entries without it add a batch unless one of that name exists, and nothing is removed.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ango.emulator.common import bad_request, require_hex24
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.listing import order_page, page_request
from airflow_provider_ango.emulator.project import Batch, Project
from airflow_provider_ango.emulator.validation import validate_category_schema
from airflow_provider_ango.emulator.views import project_json, project_summary_json

routes = Router()
ID = "([^/]+)"  # ids are checked by the handlers, so a malformed one is a 400, not a 404
PROJECT_TYPES = ("ango", "pct", "iframe")
PROJECT_SORT_KEYS = {
    "createdAt": lambda project: project.created_ms,
    "_id": lambda project: project.id,
    "name": lambda project: project.name,
}
METRICS = (
    "LabelStageGroups",
    "TimePerTask",
    "AnnotationStatus",
    "AnswerDistribution",
    "ConsensusRanges",
    "AssetSize",
)


@routes.add("GET", "/v2/listProjects", group="projects")
def list_projects(core: Core, request: Request) -> dict[str, Any]:
    paging = page_request(request.single_params(), core.settings, PROJECT_SORT_KEYS)
    with core.state.lock:
        projects = list(core.state.projects.values())
        chosen = order_page(projects, paging, PROJECT_SORT_KEYS)
        return {"projects": [project_summary_json(project) for project in chosen], "total": len(projects)}


@routes.add("POST", "/v2/project", group="projects", status=201)
def create_project(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name is required (a non-empty string)")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise bad_request("description must be a string")
    project_type = body.get("type", "ango")
    if project_type not in PROJECT_TYPES:
        raise bad_request(f"type must be one of {', '.join(PROJECT_TYPES)}, got {project_type!r}")
    project = core.state.create_project(name, description, project_type)
    with core.state.lock:
        return {"project": project_json(project)}


@routes.add("GET", f"/v2/project/{ID}", group="projects")
def get_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    with core.state.lock:
        return {"project": project_json(core.state.project(project_id))}


@routes.add("POST", f"/v2/project/{ID}", group="projects")
def update_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    unknown = sorted(set(body) - {"categorySchema", "name", "description"})
    if unknown:
        raise bad_request(f"Unsupported project fields: {', '.join(unknown)}")
    schema = validate_category_schema(body["categorySchema"]) if "categorySchema" in body else None
    for key in ("name", "description"):
        if key in body and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string")
    with core.state.lock:
        project = core.state.project(project_id)
        if schema is not None:
            project.category_schema = schema
        project.name = body.get("name", project.name)
        project.description = body.get("description", project.description)
        return {"project": project_json(project)}


@routes.add("POST", f"/v2/batches/{ID}", group="batches")
def set_batches(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    if ("batches" in body) == ("name" in body):
        raise bad_request('Body must be {"name": <batch name>} or {"batches": [{"_id"?, "name"}...]}')
    with core.state.lock:
        project = core.state.project(project_id)
        if "batches" in body:
            project.batches = _updated_batches(core, project, body["batches"])
        else:
            name = body["name"]
            if not isinstance(name, str) or not name:
                raise bad_request("name must be a non-empty string")
            project.batches.append(Batch(core.state.new_id(0xBA), name))
        return {
            "project": {
                "_id": project.id,
                "name": project.name,
                "batches": [batch.to_json() for batch in project.batches],
            }
        }


def _updated_batches(core: Core, project: Project, listed: Any) -> list[Batch]:
    """The project's batch list after ``{"batches": listed}``; validated whole before any change."""
    if not isinstance(listed, list):
        raise bad_request("batches must be a list of {_id?, name} objects")
    merge = core.settings.batch_update == "merge"
    result = list(project.batches) if merge else []
    renames: list[tuple[Batch, str]] = []
    for position, entry in enumerate(listed):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise bad_request(f"batches[{position}] must be an object with a non-empty name")
        name = entry["name"]
        if "_id" in entry:
            existing = project.batch_by_id(require_hex24(entry["_id"], f"batches[{position}]._id"))
            if existing is None:
                raise bad_request(
                    f"batches[{position}]._id {entry['_id']} is not a batch of project {project.id}"
                )
            renames.append((existing, name))
            if existing not in result:
                result.append(existing)
        elif not (merge and any(batch.name == name for batch in result)):
            result.append(Batch(core.state.new_id(0xBA), name))
    for batch, name in renames:
        batch.name = name
    return result


@routes.add("GET", f"/v2/{ID}/overview/{ID}", group="metrics")
def metrics(core: Core, request: Request, project_id: str, metric: str) -> dict[str, Any]:
    if metric not in METRICS:
        raise bad_request(f"Unknown metric {metric!r}; metrics: {', '.join(METRICS)}")
    with core.state.lock:
        project = core.state.project(project_id)
        if metric == "LabelStageGroups":
            counts = [0] * len(project.stages)
            for row in project.live:
                counts[project.stage_of[row]] += 1
            values: Any = [
                {"stage": stage.name, "stageId": stage.id, "count": counts[stage.index]}
                for stage in project.stages
            ]
        elif metric == "AssetSize":
            values = {"count": len(project.live)}
        else:
            values = []
    return {"metric": metric, "values": values}
