"""The test deployment's cluster policy shortens every wait of the nightly example DAG together.

A retried import waits ``settle - retry_delay`` before its existence check: a policy that shrinks
the retry delay to seconds but leaves the settle time at its 300 s default makes every retry of the
deployment test wait 285 s (the SIGKILL test's whole budget).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_provider_ango.testing.dagruns import load_dag_file
from airflow_provider_ango.testing.deployment import fast_waits_policy
from airflow_provider_ango.testing.samples import EXAMPLES


def nightly_tasks(policy_source: str, module_name: str) -> dict[str, Any]:
    """The example nightly DAG's tasks after the generated ``task_policy`` has seen each."""
    namespace: dict[str, Any] = {}
    exec(compile(policy_source, "airflow_local_settings.py", "exec"), namespace)  # noqa: S102 (our own source)
    module = load_dag_file(EXAMPLES / "nightly_bucket_import.py", module_name)
    tasks: dict[str, Any] = module.dag.task_dict
    for task in tasks.values():
        namespace["task_policy"](task)
    return tasks


def test_the_policy_gives_the_import_a_settle_time_of_seconds_beside_its_retry_delay() -> None:
    tasks = nightly_tasks(fast_waits_policy(15, 1, 20), "nightly_with_settle_policy")
    imports = tasks["import_assets"]
    assert (imports.settle, imports.retry_delay, imports.retry_exponential_backoff) == (
        20.0,
        timedelta(seconds=15),
        0,
    )
    assert tasks["wait_for_tasks"].poke_interval == 1.0
    # Only the task that has a settle time gets one.
    assert not hasattr(tasks["build_manifest"], "settle")


def test_without_a_settle_time_the_policy_leaves_the_import_default() -> None:
    tasks = nightly_tasks(fast_waits_policy(15, 1), "nightly_without_settle_policy")
    assert tasks["import_assets"].settle is None  # 5 x the hook's timeout at run time
    assert tasks["import_assets"].retry_delay == timedelta(seconds=15)
