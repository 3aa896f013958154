"""Helpers of the example-DAG tests: install a DAG file, run it, read XCom and what landed."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_FILES = ("nightly_bucket_import.py", "scheduled_export_to_lake.py", "prelabel_then_export.py")

CATEGORY_SCHEMA: dict[str, Any] = {
    "tools": [
        {
            "tool": "bounding-box",
            "title": "Vehicle",
            "schemaId": "vehicle",
            "classifications": [
                {
                    "tool": "radio",
                    "title": "Kind",
                    "schemaId": "kind",
                    "options": [{"value": "car", "schemaId": "car"}, {"value": "truck", "schemaId": "truck"}],
                }
            ],
        }
    ],
    "classifications": [{"tool": "text", "title": "Note", "schemaId": "note"}],
    "relations": [],
}
WORKFLOW = ["Label", "Review"]  # Start -> Label -> Review -> Complete

_module_numbers = itertools.count()


def png(width: int, height: int, shade: int = 0) -> bytes:
    """A valid, tiny, single-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((shade % 256, 90, 160)) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def prediction(external_id: str, kind: str = "car") -> dict[str, Any]:
    """One pre-label in the Ango import format, for CATEGORY_SCHEMA."""
    return {
        "externalId": external_id,
        "tools": [
            {
                "schemaId": "vehicle",
                "bounding-box": {"x": 4, "y": 6, "width": 20, "height": 12},
                "classifications": [{"schemaId": "kind", "answer": kind}],
            }
        ],
        "classifications": [{"schemaId": "note", "answer": "model v1"}],
        "relations": [],
    }


@pytest.fixture
def install_dag(airflow_home: Path, airflow_db: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Copy an example DAG file into the session's DAGs folder and import it; removed afterwards.

    ``dag.test()`` syncs the DAGs folder's bundle, so the file must be there. Retries are set to
    0 on the loaded DAGs: a failing task then fails the test at once instead of after minutes of
    retry delay.
    """
    installed: list[Path] = []

    def install(name: str) -> ModuleType:
        target = airflow_home / "dags" / name
        shutil.copyfile(EXAMPLES / name, target)
        installed.append(target)
        spec = importlib.util.spec_from_file_location(f"example_dag_{next(_module_numbers)}", target)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for value in vars(module).values():
            if hasattr(value, "task_dict") and hasattr(value, "test"):
                for task in value.task_dict.values():
                    task.retries = 0
        return module

    yield install
    for path in installed:
        path.unlink(missing_ok=True)


def xcom(run: DagRun, task_id: str) -> Any:
    """The return value a task of the run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, key="return_value", dag_ids=run.dag_id, task_ids=task_id
        )
        row = session.scalars(query).first()
        assert row is not None, f"{task_id} pushed no return value in {run.run_id}"
        return XComModel.deserialize_value(row)


def deferred_tasks(run: DagRun) -> set[str]:
    """Tasks of the run that deferred to a trigger (``dag.test()`` keeps their trigger id)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id for ti in run.get_task_instances(session=session) if ti.trigger_id is not None}


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Fernet key for Airflow: the export trigger seals the signed URL with it."""
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    monkeypatch.delenv("AIRFLOW__CORE__FERNET_KEY")
    get_fernet.cache_clear()
