"""Fixtures of the example-DAG tests: install a DAG file into the session's DAGs folder.

The sample data and the DagRun readers are shared with ``scripts/demo.py``:
:mod:`airflow_provider_ango.testing.samples` and :mod:`airflow_provider_ango.testing.dagruns`.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_ango.testing.dagruns import load_dag_file
from airflow_provider_ango.testing.samples import EXAMPLES

_module_numbers = itertools.count()


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
        return load_dag_file(target, f"example_dag_{next(_module_numbers)}", retries=0)

    yield install
    for path in installed:
        path.unlink(missing_ok=True)
