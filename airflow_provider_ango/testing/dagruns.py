"""Running DAG files in-process with ``dag.test()``: an isolated Airflow home, loading a DAG file,
and reading back what a DagRun did (a task's XCom, the tasks that deferred).

Airflow is imported inside the functions only, so this module can be imported before
``AIRFLOW_HOME`` is set (the demo sets it, then runs the DAGs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun


def isolated_airflow_env(home: Path) -> dict[str, str]:
    """Environment for an Airflow that keeps everything under ``home`` and never calls out."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


def load_dag_file(path: Path, module_name: str, *, retries: int | None = None) -> ModuleType:
    """Import a DAG file as the module ``module_name``.

    With ``retries`` set, every task of every DAG in it gets that many retries; 0 makes a failing
    task fail the run at once instead of after minutes of retry delay.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the DAG file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if retries is not None:
        for value in vars(module).values():
            if hasattr(value, "task_dict") and hasattr(value, "test"):
                for task in value.task_dict.values():
                    task.retries = retries
    return module


def xcom(run: DagRun, task_id: str) -> Any:
    """The return value a task of the run pushed; LookupError when it pushed none."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, key="return_value", dag_ids=run.dag_id, task_ids=task_id
        )
        row = session.scalars(query).first()
        if row is None:
            raise LookupError(f"{task_id} pushed no return value in {run.run_id}")
        return XComModel.deserialize_value(row)


def deferred_tasks(run: DagRun) -> set[str]:
    """Tasks of the run that deferred to a trigger (``dag.test()`` runs the trigger in line and
    keeps the task instance's trigger id)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id for ti in run.get_task_instances(session=session) if ti.trigger_id is not None}
