"""docker/compose.yaml is a valid Compose file that runs what the README says (no Docker engine here).

Compose interpolates ``${VAR:-default}`` and resolves YAML merge keys before it validates; the test
does the same, then checks the result against the Compose specification with compose-spec.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import ComposeSpecification, PyCompose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose's interpolation with an empty environment: defaults apply, ``$$`` is a literal ``$``."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "$" if m.group(0) == "$$" else (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    return value


def validate(document: dict[str, Any]) -> PyCompose:
    ComposeSpecification.model_validate(document)
    return PyCompose.from_json(json.dumps(document))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()))


def test_compose_file_follows_the_specification(compose: dict[str, Any]) -> None:
    parsed = validate(compose)
    assert set(parsed.service_names()) >= {
        "postgres",
        "minio",
        "ango-emulator",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }


@pytest.mark.parametrize(
    ("service", "field", "bad_value"),
    [
        ("airflow-scheduler", "restart_polcy", "always"),
        ("minio", "ports", [{"published": 9000}]),
    ],
)
def test_validation_catches_mistakes(
    compose: dict[str, Any], service: str, field: str, bad_value: Any
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"][service][field] = bad_value
    with pytest.raises(ValueError):  # noqa: PT011 (the validators word their messages differently)
        validate(broken)


def test_airflow_services_share_one_configuration(compose: dict[str, Any]) -> None:
    airflow = {name: svc for name, svc in compose["services"].items() if name.startswith("airflow-")}
    environments = [svc["environment"] for svc in airflow.values()]
    for environment in environments:
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        # One JWT secret for all components, or task tokens fail between them.
        assert (
            environment["AIRFLOW__API_AUTH__JWT_SECRET"] == environments[0]["AIRFLOW__API_AUTH__JWT_SECRET"]
        )
        ango = json.loads(environment["AIRFLOW_CONN_ANGO_DEFAULT"])
        assert ango["conn_type"] == "ango"
        assert ango["host"] == "http://ango-emulator:8090"
        aws = json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])
        assert aws["extra"]["endpoint_url"] == "http://minio:9000"
    commands = {
        svc["command"] if isinstance(svc["command"], str) else svc["command"][0] for svc in airflow.values()
    }
    assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= commands


def test_emulator_listens_beyond_loopback_inside_its_container(compose: dict[str, Any]) -> None:
    command = compose["services"]["ango-emulator"]["command"]
    assert command[:3] == ["python", "-m", "airflow_provider_ango.emulator"]
    assert "--in-container" in command
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (inside a container network)
    # Signed export links must name the service, not the address it listens on.
    assert command[command.index("--public-url") + 1] == "http://ango-emulator:8090"


def test_the_emulator_key_is_never_on_a_command_line(compose: dict[str, Any]) -> None:
    emulator = compose["services"]["ango-emulator"]
    assert not any(str(part).startswith("--api-key") for part in emulator["command"])  # `ps` shows those
    assert emulator["environment"]["ANGO_EMULATOR_API_KEY"] == "local-emulator-key"


def test_the_connection_test_button_is_on_and_the_emulator_plays_the_clients_reading(
    compose: dict[str, Any],
) -> None:
    command = compose["services"]["ango-emulator"]["command"]
    assert command[command.index("--batch-refs") + 1] == "ids"  # the connection's default reading
    for name, service in compose["services"].items():
        if name.startswith("airflow-") and name != "airflow-init":
            assert service["environment"]["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"
            ango = json.loads(service["environment"]["AIRFLOW_CONN_ANGO_DEFAULT"])
            assert ango.get("extra", {}).get("batch_refs", "ids") == "ids"


def test_dockerfile_extends_the_official_image_and_pins_airflow() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\}$", text, re.M)
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}"' in text
    lock = (ROOT / "uv.lock").read_text()
    version = re.search(r'name = "apache-airflow"\nversion = "([^"]+)"', lock)
    assert version is not None
    assert f"ARG AIRFLOW_VERSION={version.group(1)}" in text, "Dockerfile and uv.lock disagree on Airflow"
