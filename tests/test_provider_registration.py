"""The provider registers with Airflow through its entry point, in an isolated AIRFLOW_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import airflow_provider_ango


def _airflow_cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_entry_point_returns_provider_info() -> None:
    points = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_ango")
    ]
    assert len(points) == 1
    info = points[0].load()()
    assert info["package-name"] == "airflow-provider-ango"
    assert info["versions"] == [airflow_provider_ango.__version__]
    (connection,) = info["connection-types"]
    assert connection["connection-type"] == "ango"
    assert connection["hook-class-name"] == "airflow_provider_ango.hooks.ango.AngoHubHook"
    behaviour = connection["ui-field-behaviour"]
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["placeholders"]["host"] == "https://imeritapi.ango.ai"
    # The key alone authenticates (one organization per key): no organization field to fill in.
    assert "organization_id" not in connection["conn-fields"]
    assert {"schema", "port", "login", "extra"} <= set(behaviour["hidden-fields"])


def test_airflow_cli_lists_provider_and_ango_hook(airflow_home) -> None:
    assert os.environ["AIRFLOW_HOME"] == str(airflow_home)
    providers = json.loads(_airflow_cli("providers", "list"))
    assert "airflow-provider-ango" in {row["package_name"] for row in providers}

    hooks = json.loads(_airflow_cli("providers", "hooks"))
    ango = [row for row in hooks if row["connection_type"] == "ango"]
    assert ango, f"no 'ango' connection type among {sorted(row['connection_type'] for row in hooks)}"
    assert ango[0]["class"] == "airflow_provider_ango.hooks.ango.AngoHubHook"
    assert ango[0]["package_name"] == "airflow-provider-ango"
    assert ango[0]["hook_name"] == "Ango Hub"


def test_isolated_home_has_a_migrated_database(airflow_db, airflow_home) -> None:
    import sqlite3

    assert airflow_db.parent == airflow_home
    with sqlite3.connect(airflow_db) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"dag_run", "task_instance", "connection", "alembic_version"} <= tables


def test_every_declared_module_imports() -> None:
    import importlib

    info = airflow_provider_ango.get_provider_info()
    declared = [
        module
        for section in ("hooks", "operators", "sensors", "triggers")
        for entry in info[section]
        for module in entry["python-modules"]
    ]
    assert len(declared) >= 9
    for module in declared:
        importlib.import_module(module)


def test_airflow_registers_the_extra_links_and_the_ui_url_field() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert {
        "airflow_provider_ango.links.AngoProjectLink",
        "airflow_provider_ango.links.AngoBatchLink",
    } <= set(manager.extra_links_class_names)
    (connection,) = airflow_provider_ango.get_provider_info()["connection-types"]
    assert connection["conn-fields"]["ui_url"]["label"] == "Ango Hub web app URL"
