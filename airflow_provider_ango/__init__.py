"""Apache Airflow provider for Ango Hub (iMerit's data-labeling platform)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-ango",
        "name": "Ango Hub",
        "description": "Ango Hub (iMerit) data labeling: bucket imports, pre-labels, sensors and exports.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Ango Hub",
                "external-doc-url": "https://docs.imerit.net/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Ango Hub",
                "python-modules": ["airflow_provider_ango.hooks.ango", "airflow_provider_ango.hooks.bucket"],
            },
        ],
        "operators": [
            {
                "integration-name": "Ango Hub",
                "python-modules": [
                    "airflow_provider_ango.operators.manifests",
                    "airflow_provider_ango.operators.imports",
                    "airflow_provider_ango.operators.labels",
                    "airflow_provider_ango.operators.exports",
                    "airflow_provider_ango.operators.landing",
                ],
            },
        ],
        "sensors": [
            {
                "integration-name": "Ango Hub",
                "python-modules": [
                    "airflow_provider_ango.sensors.imports",
                    "airflow_provider_ango.sensors.stage",
                ],
            },
        ],
        "triggers": [
            {
                "integration-name": "Ango Hub",
                "python-modules": [
                    "airflow_provider_ango.triggers.imports",
                    "airflow_provider_ango.triggers.exports",
                    "airflow_provider_ango.triggers.stage",
                ],
            },
        ],
        # The links the operators record in XCom (airflow_provider_ango.links); the UI shows them.
        "extra-links": [
            "airflow_provider_ango.links.AngoProjectLink",
            "airflow_provider_ango.links.AngoBatchLink",
        ],
        "connection-types": [
            {
                "connection-type": "ango",
                "hook-class-name": "airflow_provider_ango.hooks.ango.AngoHubHook",
                "hook-name": "Ango Hub",
                # No organization field: Ango authenticates by the apikey header alone (its SDK
                # sends nothing else and the REST documentation names no organization header).
                "conn-fields": {
                    "requests_per_minute": {
                        "label": "Requests per minute",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Your plan's rate limit (Standard: 100); the client stays under it. "
                        "0 turns pacing off. Split it between workers with an Airflow pool.",
                    },
                    "max_concurrent_requests": {
                        "label": "Requests in flight",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                        "description": "At most this many requests at once from one process (default 8).",
                    },
                    "batch_refs": {
                        "label": "Batch references in imports",
                        "schema": {"type": ["string", "null"], "enum": ["ids", "names", None]},
                        "description": "How cloud imports name batches: ids (the SDK, default) or names "
                        "(the REST documentation).",
                    },
                    "ui_url": {
                        "label": "Ango Hub web app URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Where the tasks' extra links point (default https://hub.ango.ai).",
                    },
                    "api_reading": {
                        "label": "Request forms",
                        "schema": {"type": ["string", "null"], "enum": ["sdk", "rest", None]},
                        "description": "Where the SDK and the REST documentation disagree: sdk (default) "
                        "or rest.",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login", "extra"],
                    "relabeling": {"password": "API key", "host": "Ango Hub URL"},
                    "placeholders": {
                        "host": "https://imeritapi.ango.ai",
                        "password": "Ango Hub API key (Account > API)",
                    },
                },
            }
        ],
    }
