"""AngoHubHook without a server: construction, connection metadata, the batch resolver's re-read."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_ango.hooks.ango import AngoHubHook
from tests.hooks.ango.helpers import KEY


class TestHookConstruction:
    def test_init_touches_no_connection(self) -> None:
        hook = AngoHubHook(ango_conn_id="does_not_exist_anywhere")
        assert "settings" not in hook.session.__dict__
        assert "client" not in hook.session.__dict__
        hook.close()

    def test_user_agent_names_provider_and_airflow(self) -> None:
        from airflow import __version__ as airflow_version

        from airflow_provider_ango import __version__

        assert (
            AngoHubHook().user_agent
            == f"airflow-provider-ango/{__version__} (+apache-airflow/{airflow_version})"
        )

    def test_connection_metadata(self) -> None:
        assert (AngoHubHook.conn_type, AngoHubHook.default_conn_name, AngoHubHook.conn_name_attr) == (
            "ango",
            "ango_default",
            "ango_conn_id",
        )

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError, match="timeout"):
            AngoHubHook(timeout=0)
        with pytest.raises(ValueError, match="max_retries"):
            AngoHubHook(retry_limit=-1)

    def test_requeue_without_selector_sends_nothing(self) -> None:
        with pytest.raises(ValueError, match="task_ids"):
            AngoHubHook(ango_conn_id="does_not_exist_anywhere").requeue_tasks("p", "Label")


class TestResolveBatchesFallback:
    """The SDK only promises ``project {_id, name}`` from create-batch: ids may need one re-read."""

    def test_one_more_project_read_when_the_create_answer_lists_no_batches(self) -> None:
        from airflow_provider_ango.hooks.ango.connection import AngoConnectionSettings

        project_id = "65a1b2c3d4e5f60718293a4b"
        batches = [{"_id": "65a1b2c3d4e5f60718293a01", "name": "old"}]
        seen: list[tuple[str, str]] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append((request.method, request.url.path))
            if request.method == "POST":
                name = json.loads(request.content)["name"]
                batches.append({"_id": f"65a1b2c3d4e5f60718293a{len(batches) + 1:02d}", "name": name})
                return httpx.Response(
                    200, json={"status": "success", "data": {"project": {"_id": project_id}}}
                )
            project = {"_id": project_id, "name": "p", "batches": list(batches)}
            return httpx.Response(200, json={"status": "success", "data": {"project": project}})

        hook = AngoHubHook(ango_conn_id="unused")
        hook.session.__dict__["settings"] = AngoConnectionSettings("http://ango.test", KEY)
        hook.session.__dict__["client"] = httpx.Client(
            base_url="http://ango.test", transport=httpx.MockTransport(answer)
        )

        resolved = hook.resolve_batches(project_id, ["old", "new-1", "new-2"], create_missing=True)

        assert resolved == {
            "old": "65a1b2c3d4e5f60718293a01",
            "new-1": "65a1b2c3d4e5f60718293a02",
            "new-2": "65a1b2c3d4e5f60718293a03",
        }
        project_path = f"/v2/project/{project_id}"
        batches_path = f"/v2/batches/{project_id}"
        assert seen == [
            ("GET", project_path),
            ("POST", batches_path),
            ("POST", batches_path),
            ("GET", project_path),
        ]
        hook.close()
