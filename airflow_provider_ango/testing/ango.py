"""pytest fixtures for the Ango Hub emulator (no Airflow import at module import time).

- ``ango_emulator`` (session): one :class:`AngoEmulator` with :data:`FIXTURE_SETTINGS` on a free
  loopback port, stopped at the end of the session;
- ``ango`` (function): an emulator reset (no projects, keys, faults, logged requests, stats or
  exports; clock and URL expiry back to their defaults) before the test, and again after it.
  It is the session's ``ango_emulator`` unless the test asks for other settings with the marker::

      @pytest.mark.ango_settings(rate_limit="100/s", answer_shapes="rest")   # over FIXTURE_SETTINGS
      @pytest.mark.ango_settings(EmulatorSettings())                          # the strict defaults
      @pytest.mark.ango_settings(EmulatorSettings(), rate_limit="off")        # strict, one change

- ``ango_emulator_factory`` (session): ``ango_emulator_factory(settings=None, **changes)`` returns a
  started, freshly reset emulator with those settings (``settings`` defaults to
  :data:`FIXTURE_SETTINGS`; ``changes`` are :class:`EmulatorSettings` field names). One emulator
  is started per distinct settings and kept for the session;
- ``ango_connection`` (function): points the Airflow connection ``ango_default`` at ``ango``
  through ``AIRFLOW_CONN_ANGO_DEFAULT`` (JSON form) and returns the conn id.

Every fixture emulator uses the API key :data:`ANGO_TEST_API_KEY`. :data:`FIXTURE_SETTINGS` are the
strict defaults, as for ``AngoEmulator()`` and the command line. ``ango_connection`` gives the
client the readings and the rate limit of the emulator it points at (:func:`connection_extra`), so
the client paces itself within the emulator's window; each test starts with empty windows on both
sides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings

__all__ = [
    "ANGO_CONN_ID",
    "ANGO_TEST_API_KEY",
    "FIXTURE_SETTINGS",
    "ango",
    "ango_connection",
    "ango_emulator",
    "ango_emulator_factory",
    "connection_extra",
]

ANGO_CONN_ID = "ango_default"
ANGO_TEST_API_KEY = "emulator-test-key"
SETTINGS_MARKER = "ango_settings"

#: The fixtures' emulator: the strict defaults, Ango's documented limits (100 a page, 100 requests a
#: minute per organization, newest first with ties in no stable order, the REST documentation's
#: answers and batch names). A test that needs more throughput sets a higher limit explicitly.
FIXTURE_SETTINGS = EmulatorSettings()

EmulatorFactory = Callable[..., AngoEmulator]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SETTINGS_MARKER}(settings=None, **changes): run the `ango` fixture's emulator with these "
        "EmulatorSettings (changes apply over FIXTURE_SETTINGS, or over the settings given)",
    )


def resolve_settings(settings: EmulatorSettings | None = None, **changes: Any) -> EmulatorSettings:
    """``settings`` (default :data:`FIXTURE_SETTINGS`) with ``changes`` applied."""
    base = FIXTURE_SETTINGS if settings is None else settings
    return base.with_changes(**changes) if changes else base


class _Emulators:
    """One started emulator per distinct settings, for the whole session."""

    def __init__(self) -> None:
        self._started: dict[EmulatorSettings, AngoEmulator] = {}

    def get(self, settings: EmulatorSettings) -> AngoEmulator:
        found = self._started.get(settings)
        if found is None:
            found = AngoEmulator(api_key=ANGO_TEST_API_KEY, host="127.0.0.1", port=0, settings=settings)
            found.start()
            self._started[settings] = found
        return found

    def stop_all(self) -> None:
        for emulator in self._started.values():
            emulator.stop()
        self._started.clear()


@pytest.fixture(scope="session")
def _ango_emulators() -> Iterator[_Emulators]:
    emulators = _Emulators()
    try:
        yield emulators
    finally:
        emulators.stop_all()


@pytest.fixture(scope="session")
def ango_emulator(_ango_emulators: _Emulators) -> AngoEmulator:
    return _ango_emulators.get(FIXTURE_SETTINGS)


@pytest.fixture(scope="session")
def ango_emulator_factory(_ango_emulators: _Emulators) -> EmulatorFactory:
    def start(settings: EmulatorSettings | None = None, **changes: Any) -> AngoEmulator:
        emulator = _ango_emulators.get(resolve_settings(settings, **changes))
        emulator.control.reset()
        return emulator

    return start


@pytest.fixture
def ango(request: pytest.FixtureRequest, ango_emulator_factory: EmulatorFactory) -> Iterator[AngoEmulator]:
    marker = request.node.get_closest_marker(SETTINGS_MARKER)
    emulator = ango_emulator_factory(*marker.args, **marker.kwargs) if marker else ango_emulator_factory()
    from airflow_provider_ango.hooks.ango.ratelimit import reset_shared_limiters  # imports Airflow

    reset_shared_limiters()  # the emulator's window is empty again; so is the client's
    yield emulator
    emulator.control.reset()  # a million-asset project is not kept alive until that emulator's next test


def connection_extra(settings: EmulatorSettings) -> dict[str, Any]:
    """The connection extras that make the client fit an emulator: its batch reading and rate."""
    extra: dict[str, Any] = {"batch_refs": settings.batch_refs}
    limit = settings.limiter
    if limit is None:
        extra["requests_per_minute"] = 0  # the emulator counts nothing: no pacing
    else:
        extra["requests_per_minute"] = limit.requests
        extra["rate_window_seconds"] = limit.window_seconds
    return extra


@pytest.fixture
def ango_connection(ango: AngoEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    connection = {
        "conn_type": "ango",
        "password": ango.api_key,
        "host": ango.url,
        "extra": connection_extra(ango.settings),
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{ANGO_CONN_ID.upper()}", json.dumps(connection))
    return ANGO_CONN_ID
