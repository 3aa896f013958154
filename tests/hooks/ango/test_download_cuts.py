"""hooks/ango/download.py: a download cut again and again, each time before a full read chunk, still
progresses (it resumes from the bytes received, not from the last chunk handed out)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

from tests.hooks.ango.helpers import logged

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from tests.hooks.ango.conftest import RecordedWaits

pytestmark = pytest.mark.emulator

CUTS = 6


def export_of(hook: AngoHubHook, ango: AngoEmulator, project: dict[str, Any]) -> tuple[Any, bytes]:
    ango.control.act(project["_id"], action="move", toStage="Complete", externalIds=["cat-0.jpg"])
    url = hook.request_export(project["_id"], None)
    with hook.open_export_stream(url) as chunks:
        return url, b"".join(chunks)


@pytest.mark.parametrize("chunk_size", [1 << 20, 4096])
def test_every_answer_cut_before_a_full_chunk_still_progresses(
    ango: AngoEmulator,
    hook: AngoHubHook,
    waits: RecordedWaits,
    project: dict[str, Any],
    chunk_size: int,
) -> None:
    url, expected = export_of(hook, ango, project)
    assert len(expected) < 2 * chunk_size or chunk_size == 4096  # the zip is smaller than a 1 MiB chunk
    ango.control.clear_requests()
    # Every answer sends half of what is asked for, then drops the connection: CUTS times in a row.
    ango.control.add_fault("^/_files/", "truncate", count=CUTS)

    with hook.open_export_stream(url, chunk_size=chunk_size) as chunks:
        received = b"".join(chunks)

    assert received == expected
    starts = [
        int(entry["headers"].get("range", "bytes=0-").removeprefix("bytes=").removesuffix("-"))
        for entry in logged(ango, "/_files/.*", "GET")
    ]
    assert len(starts) == CUTS + 1
    # Each resume starts where the cut answer stopped: half of what was left, every time.
    left = len(expected)
    for previous, start in itertools.pairwise(starts):
        assert start == previous + (left // 2)
        left -= left // 2
    assert len(waits) == CUTS
