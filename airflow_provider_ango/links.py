"""Extra links from a task to the Ango Hub project (and batch) it worked on, XCom-backed.

An operator records the link with :func:`persist_ango_links` while it runs; the web UI shows it
under the task's extra links. Ango Hub's web app is not its API host: the links use the
connection's extra ``ui_url`` (default ``https://hub.ango.ai``, where Ango's documentation links
the organization page), with ``/projects/<project id>`` for a project and
``/projects/<project id>?batch=<batch id>`` for a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

#: Where the links are kept (one small dict per task try).
XCOM_KEY = "ango_links"
DEFAULT_UI_URL = "https://hub.ango.ai"


def clean_ui_url(ui_url: str | None) -> str:
    """The web app's base URL as links show it: scheme, host and path only (no userinfo, query or
    fragment, so that nothing secret pasted into the extra reaches XCom)."""
    text = (ui_url or DEFAULT_UI_URL).strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def project_url(ui_url: str, project_id: str) -> str:
    return f"{ui_url.rstrip('/')}/projects/{quote(project_id, safe='')}"


def batch_url(ui_url: str, project_id: str, batch_id: str) -> str:
    return f"{project_url(ui_url, project_id)}?batch={quote(batch_id, safe='')}"


def persist_ango_links(
    context: Context, ui_url: str | None, project_id: str, batch_id: str | None = None
) -> None:
    """Record this task's links to the project (and batch) in XCom (plain URLs, no secret)."""
    push = getattr(context.get("ti"), "xcom_push", None)
    if push is None:  # a bare execute() outside a task run (no ti, or a stand-in without XCom)
        return
    base = clean_ui_url(ui_url)
    value = {"project": project_url(base, project_id)}
    if batch_id:
        value["batch"] = batch_url(base, project_id, batch_id)
    push(key=XCOM_KEY, value=value)


class _AngoLink(BaseOperatorLink):
    part: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        value: Any = XCom.get_value(key=XCOM_KEY, ti_key=ti_key)
        return str(value.get(self.part, "")) if isinstance(value, dict) else ""


class AngoProjectLink(_AngoLink):
    """The Ango Hub project of the task."""

    name = "Ango Hub project"
    part = "project"


class AngoBatchLink(_AngoLink):
    """The Ango Hub batch of the task (when it worked on one)."""

    name = "Ango Hub batch"
    part = "batch"


__all__ = [
    "XCOM_KEY",
    "AngoBatchLink",
    "AngoProjectLink",
    "batch_url",
    "clean_ui_url",
    "persist_ango_links",
    "project_url",
]
