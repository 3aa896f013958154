"""Pure logic of AngoHubHook: host parsing, chunking, import payloads, endpoint building."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel, Field

from airflow_provider_ango.hooks.ango import AngoHubHook, base_url_from_host, endpoints
from airflow_provider_ango.hooks.ango.endpoints import chunked, import_item_payload
from airflow_provider_ango.hooks.ango.transport import RetryPolicy, Transport

KEY = "unit-test-api-key-0123456789"


class TestBaseUrl:
    @pytest.mark.parametrize(
        ("host", "port", "url"),
        [
            (None, None, "https://imeritapi.ango.ai"),
            ("", None, "https://imeritapi.ango.ai"),
            ("imeritapi.ango.ai", None, "https://imeritapi.ango.ai"),
            ("https://imeritapi.ango.ai/", None, "https://imeritapi.ango.ai"),
            ("http://127.0.0.1:8123", None, "http://127.0.0.1:8123"),
            ("127.0.0.1", 8123, "https://127.0.0.1:8123"),
            ("http://127.0.0.1:8123", 9999, "http://127.0.0.1:8123"),
            ("https://ango.internal/api/", None, "https://ango.internal/api"),
        ],
    )
    def test_host_forms(self, host: str | None, port: int | None, url: str) -> None:
        assert base_url_from_host(host, port) == url


class TestChunked:
    def test_pulls_one_chunk_at_a_time(self) -> None:
        pulled: list[int] = []

        def source() -> Iterator[int]:
            for number in range(7):
                pulled.append(number)
                yield number

        chunks = chunked(source(), 3)
        assert next(chunks) == [0, 1, 2]
        assert pulled == [0, 1, 2]
        assert list(chunks) == [[3, 4, 5], [6]]

    def test_empty_and_invalid(self) -> None:
        assert list(chunked([], 5)) == []
        with pytest.raises(ValueError, match="chunk size"):
            list(chunked([1], 0))


class CloudAsset(BaseModel):
    data: str
    external_id: str = Field(alias="externalId")
    batches: list[str] | None = None


class TestImportPayload:
    def test_models_dump_with_wire_names_without_nones(self) -> None:
        item = CloudAsset(data="https://x/a.jpg", externalId="a.jpg")
        assert import_item_payload(item, "asset", 0) == {"data": "https://x/a.jpg", "externalId": "a.jpg"}

    def test_missing_external_id_names_the_item(self) -> None:
        with pytest.raises(ValueError, match=r"asset #12 has no externalId"):
            import_item_payload({"data": "https://x/a.jpg"}, "asset", 12)


class TestEndpoints:
    def test_ids_cannot_escape_their_path_segment(self) -> None:
        assert endpoints.get_project("../listProjects").path == "/v2/project/..%2FlistProjects"
        with pytest.raises(ValueError, match="empty"):
            endpoints.get_task("", include_answer=False)

    def test_list_tasks_query(self) -> None:
        call = endpoints.list_tasks(
            "p", 2, 50, {"stage": "Label"}, include_answer=True, sort="-updatedAt", fields=["stage", "answer"]
        )
        assert call.params == {
            "page": "2",
            "limit": "50",
            "includeAnswer": "true",
            "filter": '{"stage":"Label"}',
            "sort": "-updatedAt",
            "fields": "stage,answer",
        }

    def test_writes_are_marked_non_idempotent(self) -> None:
        assert not endpoints.import_cloud_assets("p", [], None).idempotent
        assert not endpoints.import_labels("p", []).idempotent
        assert not endpoints.create_project("n", "", None).idempotent
        assert not endpoints.requeue_tasks("p", "Label", {}, {}).idempotent
        assert not endpoints.create_batch("p", "b").idempotent
        assert endpoints.set_category_schema("p", {}).idempotent
        assert endpoints.delete_storage("s").idempotent

    def test_storage_secrets_are_registered_for_scrubbing(self) -> None:
        call = endpoints.create_storage(
            "s", "AWS", public_key="AKIAPUBLIC", private_key="private-secret", region=None, credentials=None
        )
        assert call.secrets == ("private-secret",)
        assert "private-secret" not in repr(call)
        assert "region" not in call.body


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


class TestRetryBudget:
    """The retry loop against a scripted in-process transport (no network, no sleeping)."""

    @staticmethod
    def scripted(*responses: httpx.Response) -> tuple[httpx.Client, list[httpx.Request]]:
        seen: list[httpx.Request] = []
        queue = list(responses)

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return queue.pop(0)

        return httpx.Client(base_url="http://ango.test", transport=httpx.MockTransport(answer)), seen

    def test_a_retry_after_beyond_the_budget_stops_at_once(self) -> None:
        waits: list[float] = []
        client, seen = self.scripted(
            httpx.Response(429, headers={"Retry-After": "600"}, json={"message": "slow"})
        )
        transport = Transport(RetryPolicy(max_retries=5, max_elapsed=60), KEY, _NullLog(), sleep=waits.append)
        from airflow_provider_ango.exceptions import AngoRateLimitError

        with pytest.raises(AngoRateLimitError) as raised:
            transport.send(client, endpoints.list_projects(1, 1))
        assert len(seen) == 1
        assert waits == []
        assert raised.value.retry_after == 600.0

    def test_attempts_are_bounded(self) -> None:
        waits: list[float] = []
        client, seen = self.scripted(*[httpx.Response(502, text="bad gateway")] * 4)
        transport = Transport(
            RetryPolicy(max_retries=3), KEY, _NullLog(), sleep=waits.append, rng=lambda: 0.5
        )
        from airflow_provider_ango.exceptions import AngoServerError

        with pytest.raises(AngoServerError, match="bad gateway"):
            transport.send(client, endpoints.list_projects(1, 1))
        assert len(seen) == 4
        assert waits == [0.5, 1.0, 2.0]

    def test_unreadable_success_of_a_read_is_retried(self) -> None:
        client, seen = self.scripted(
            httpx.Response(200, content=b'{"status":"succ'), httpx.Response(200, json={"data": {"total": 3}})
        )
        transport = Transport(RetryPolicy(), KEY, _NullLog(), sleep=lambda _: None)
        assert transport.send(client, endpoints.list_projects(1, 1)) == {"total": 3}
        assert len(seen) == 2


class _NullLog:
    def warning(self, *args: object) -> None:
        pass


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
