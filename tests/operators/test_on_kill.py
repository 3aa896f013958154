"""``on_kill`` with a request in flight, and the hooks operators open, closed when they end.

Airflow's task runner calls ``on_kill`` from its SIGTERM handler, in the thread that runs
``execute``; these tests do the same: a request is held by the emulator (a ``slow`` fault far
longer than the test), a helper thread sends SIGTERM once the emulator has the request, and the
handler calls ``on_kill``. The task must then end with :class:`AngoHookClosedError`, the held
request cut short (if it were not, the task would wait for the emulator's answer or its timeout
and end otherwise).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.exceptions import AngoHookClosedError, AngoNotFoundError
from tests.exports.helpers import run_context, seed_labeled, trigger_op
from tests.imports.helpers import Store, build, last_seq
from tests.imports.helpers import run_context as import_context

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
HELD = 300.0  # seconds the emulator holds the request: far past any wait of these tests


@pytest.fixture
def sigterm_calls_on_kill() -> Iterator[Callable[[Any], None]]:
    """Install the task runner's handler for one operator: SIGTERM -> ``operator.on_kill()``."""
    previous = signal.getsignal(signal.SIGTERM)

    def install(operator: Any) -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: operator.on_kill())

    yield install
    signal.signal(signal.SIGTERM, previous)


class Killer:
    """Sends SIGTERM to this process once the emulator holds a request on ``path_pattern``."""

    def __init__(self, ango: AngoEmulator, path_pattern: str) -> None:
        self.ango = ango
        self.path_pattern = path_pattern
        self.since = last_seq(ango)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def held(self) -> bool:
        """Whether the emulator still holds the request (has not answered it)."""
        entries = self.ango.control.requests(path_pattern=self.path_pattern, since=self.since)
        return any(entry.get("status") is None for entry in entries)

    def _run(self) -> None:
        self.ango.wait_until(self.held, timeout=120, what=f"a request on {self.path_pattern} in flight")
        os.kill(os.getpid(), signal.SIGTERM)

    def check_cut_short(self) -> None:
        """After the task ended: it did not wait for the answer (the emulator still holds it)."""
        self.thread.join()
        assert self.held(), "the task ended only after the held request was answered"


def test_a_shut_hook_closes_its_client_and_refuses_every_later_call(
    ango: AngoEmulator, ango_connection: str
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    project = ango.control.seed_project(name="shut")
    hook = AngoHubHook()
    assert hook.get_project(project["_id"]).id == project["_id"]
    client = hook.get_conn()
    hook.shut("a test")
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        client.get("/v2/listProjects")  # the client itself is closed, not only forgotten
    with pytest.raises(AngoHookClosedError, match=r"'ango_default' was shut \(a test\)"):
        hook.get_project(project["_id"])
    with pytest.raises(AngoHookClosedError):
        hook.get_conn()
    # close() (the end of execute) is not shut(): a later call opens a new client.
    other = AngoHubHook()
    other.get_project(project["_id"])
    first = other.get_conn()
    other.close()
    assert first.is_closed
    assert other.get_project(project["_id"]).id == project["_id"]
    other.close()


def test_killing_the_import_cuts_its_post_short(
    s3_store: Store,
    ango: AngoEmulator,
    project: dict[str, Any],
    sigterm_calls_on_kill: Callable[[Any], None],
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    s3_store.put("a.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    path = f"/v2/project/{project['_id']}/cloud$"
    ango.control.add_fault(path, "slow", delay=HELD, method="POST")
    operator = AngoImportAssetsOperator(
        task_id="import", project_id=project["_id"], manifest=built, manifest_conn_id=s3_store.bucket.conn_id
    )
    sigterm_calls_on_kill(operator)
    killer = Killer(ango, path)
    with pytest.raises(AngoHookClosedError, match="task import was killed"):
        operator.execute(import_context(None, None))  # type: ignore[arg-type]
    killer.check_cut_short()
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "Killed: closed the Ango Hub connection 'ango_default'" in log
    assert "each externalId once" in log


def test_killing_the_label_import_cuts_its_post_short(
    s3_store: Store,
    ango: AngoEmulator,
    project: dict[str, Any],
    sigterm_calls_on_kill: Callable[[Any], None],
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.operators.imports import AngoImportLabelsOperator

    with AngoHubHook() as hook:
        hook.import_cloud_assets(
            project["_id"], [{"data": "https://cdn.example.com/a.jpg", "externalId": "a.jpg"}]
        )
    s3_store.hook.write_bytes("l.ndjson", orjson.dumps({"externalId": "a.jpg", "classifications": []}))
    ango.control.add_fault("^/v2/import/labels$", "slow", delay=HELD, method="POST")
    operator = AngoImportLabelsOperator(
        task_id="labels",
        project_id=project["_id"],
        source=f"{s3_store.bucket.uri}/l.ndjson",
        source_conn_id=s3_store.bucket.conn_id,
    )
    sigterm_calls_on_kill(operator)
    killer = Killer(ango, "^/v2/import/labels$")
    with pytest.raises(AngoHookClosedError):
        operator.execute(import_context(None, None))  # type: ignore[arg-type]
    killer.check_cut_short()


@pytest.mark.parametrize(
    "held_path",
    ["^/v2/export", "^/_files/"],
    ids=["while-waiting-for-the-export", "while-downloading-the-zip"],
)
def test_killing_the_export_cuts_the_request_or_the_download_short_and_stages_nothing(
    held_path: str,
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    sigterm_calls_on_kill: Callable[[Any], None],
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg", "b.jpg"])
    ango.control.add_fault(held_path, "slow", delay=HELD)
    operator = trigger_op(project["_id"], f"{bucket.uri}/staging")
    sigterm_calls_on_kill(operator)
    killer = Killer(ango, held_path)
    with pytest.raises(AngoHookClosedError):
        operator.execute(run_context())
    killer.check_cut_short()
    assert list(BucketHook.from_uri(bucket.uri, bucket.conn_id).iter_objects()) == []


def test_operators_close_the_hook_when_execute_ends(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    operator = trigger_op(project["_id"], f"{bucket.uri}/staging")
    client = operator.hook.get_conn()
    operator.execute(run_context())
    assert client.is_closed
    failing = trigger_op("0" * 24, f"{bucket.uri}/staging", batches=["x"])
    client = failing.hook.get_conn()
    with pytest.raises(AngoNotFoundError):
        failing.execute(run_context())
    assert client.is_closed
