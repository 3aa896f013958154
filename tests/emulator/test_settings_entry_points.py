"""Every setting as a command-line flag, an ``AngoEmulator`` argument and a fixture argument."""

from __future__ import annotations

import argparse
import dataclasses

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings, RateLimit
from airflow_provider_ango.emulator.__main__ import (
    SETTING_FLAGS,
    add_settings_arguments,
    command_line_flags,
    settings_from,
)
from airflow_provider_ango.testing.ango import (
    FIXTURE_SETTINGS,
    EmulatorFactory,
    connection_extra,
)
from tests.emulator.test_entry_points import _first_line, launch_command_line


def _parsed(*flags: str) -> EmulatorSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from(parser.parse_args(list(flags)))


def test_every_setting_has_a_flag_and_the_flags_default_to_the_strict_settings() -> None:
    names = {name for name, _, _ in SETTING_FLAGS} | {"retry_after"}
    assert names == {field.name for field in dataclasses.fields(EmulatorSettings)}
    assert _parsed() == EmulatorSettings()
    flags = _parsed(
        "--page-limit=off",
        "--page-limit-mode=reject",
        "--rate-limit=5/s",
        "--no-retry-after",
        "--latency-ms=7",
        "--answer-shapes=sdk",
        "--batch-refs=ids",
        "--batch-update=merge",
        "--default-sort=createdAt,_id",
        "--tie-order=stable",
        "--split-part-records=3",
    )
    assert flags == EmulatorSettings(
        page_limit=None,
        page_limit_mode="reject",
        rate_limit=RateLimit(5, 1.0),
        retry_after=False,
        latency_ms=7,
        answer_shapes="sdk",
        batch_refs="ids",
        batch_update="merge",
        default_sort="createdAt,_id",
        tie_order="stable",
        split_part_records=3,
    )


@pytest.mark.parametrize(
    "settings",
    [
        EmulatorSettings(),
        EmulatorSettings(page_limit=1000, rate_limit="off", answer_shapes="sdk", batch_refs="ids"),
        EmulatorSettings(retry_after=False),
    ],
)
def test_command_line_flags_round_trip(settings: EmulatorSettings) -> None:
    assert _parsed(*command_line_flags(settings)) == settings


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="answer_shapes must be one of rest, sdk"):
        EmulatorSettings(answer_shapes="soap")
    with pytest.raises(ValueError, match="100/min"):
        EmulatorSettings(rate_limit="lots")
    with pytest.raises(TypeError, match="unknown emulator settings \\['speed'\\]"):
        EmulatorSettings().with_changes(speed=1)
    assert EmulatorSettings(rate_limit="250/min").limiter == RateLimit(250, 60.0)


def test_the_command_line_serves_with_the_flags_it_was_given() -> None:
    process = launch_command_line(
        "--api-key=cli-key", "--rate-limit=2/min", "--no-retry-after", "--page-limit-mode=reject"
    )
    try:
        url = _first_line(process, timeout=60).split()[-1]
        settings = httpx.get(f"{url}/_emulator/config").json()["settings"]
        assert (settings["rate_limit"], settings["retry_after"], settings["page_limit_mode"]) == (
            "2/min",
            False,
            "reject",
        )
        headers = {"apikey": "cli-key"}
        answers = [httpx.get(f"{url}/v2/listProjects", headers=headers) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert "Retry-After" not in answers[2].headers
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_fixtures_play_the_documented_limits(ango: AngoEmulator) -> None:
    assert EmulatorSettings() == FIXTURE_SETTINGS
    assert ango.settings == EmulatorSettings()
    assert (ango.settings.page_limit, str(ango.settings.limiter)) == (100, "100/min")


@pytest.mark.ango_settings(rate_limit="300/s", batch_refs="ids")
def test_the_fixture_connection_fits_the_emulator(ango: AngoEmulator, ango_connection: str) -> None:
    import json
    import os

    connection = json.loads(os.environ[f"AIRFLOW_CONN_{ango_connection.upper()}"])
    assert connection["extra"] == connection_extra(ango.settings)
    assert connection["extra"] == {
        "batch_refs": "ids",
        "requests_per_minute": 300,
        "rate_window_seconds": 1.0,
    }


@pytest.mark.ango_settings(EmulatorSettings(), latency_ms=5)
def test_the_marker_starts_an_emulator_with_those_settings(ango: AngoEmulator) -> None:
    assert ango.settings == EmulatorSettings(latency_ms=5)
    assert ango.control.settings()["latency_ms"] == 5


def test_the_factory_hands_out_one_reset_emulator_per_settings(
    ango_emulator_factory: EmulatorFactory,
) -> None:
    first = ango_emulator_factory(EmulatorSettings(), answer_shapes="sdk")
    first.control.seed_project(name="left over")
    again = ango_emulator_factory(EmulatorSettings(answer_shapes="sdk"))
    assert again is first  # the same emulator, reset on the way out of the factory
    assert (
        httpx.get(f"{again.url}/v2/listProjects", headers={"apikey": again.api_key}).json()["data"]["total"]
        == 0
    )
    assert ango_emulator_factory(rate_limit="9/s").settings == FIXTURE_SETTINGS.with_changes(rate_limit="9/s")
