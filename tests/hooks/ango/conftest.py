"""Fixtures of the hook tests: a hook wired to the Ango emulator, waits recorded instead of slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Type-only: importing Airflow here, before the testing plugin isolates AIRFLOW_HOME, is refused.
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook


class RecordedWaits(list[float]):
    """The hook's sleep, replaced: remembers each wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> RecordedWaits:
    return RecordedWaits()


HookFactory = Callable[..., "AngoHubHook"]


@pytest.fixture
def make_hook(waits: RecordedWaits) -> Iterator[HookFactory]:
    """Build hooks with small retry waits that are recorded in ``waits``, never slept."""
    from airflow_provider_ango.hooks.ango import AngoHubHook

    made: list[AngoHubHook] = []

    def build(**kwargs: Any) -> AngoHubHook:
        options: dict[str, Any] = {
            "timeout": 5.0,
            "retry_limit": 3,
            "retry_initial_wait": 0.01,
            "retry_max_wait": 0.05,
            "retry_max_elapsed": 60.0,
            **kwargs,
        }
        hook = AngoHubHook(**options)
        hook.session.sleep = waits
        hook.session.async_sleep = waits.asleep
        made.append(hook)
        return hook

    yield build
    for hook in made:
        hook.close()


@pytest.fixture
def hook(ango_connection: str, make_hook: HookFactory) -> AngoHubHook:
    return make_hook(ango_conn_id=ango_connection)


@pytest.fixture
def project(ango: AngoEmulator) -> dict[str, Any]:
    """A seeded project with two batches, an ontology and five assets in batch b1."""
    return ango.control.seed_project(
        name="fidelity",
        batches=["b1", "b2"],
        category_schema={
            "tools": [{"tool": "bounding-box", "title": "Cat", "schemaId": "cat"}],
            "classifications": [
                {
                    "tool": "radio",
                    "title": "Colour",
                    "schemaId": "colour",
                    "options": [{"value": "black", "schemaId": "black"}],
                }
            ],
            "relations": [],
        },
        assets=[
            {"data": f"https://img.example/cat-{n}.jpg", "externalId": f"cat-{n}.jpg", "batches": ["b1"]}
            for n in range(5)
        ],
    )
