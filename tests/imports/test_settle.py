"""imports/settle.py: a chunk set aside comes back only once its settle time has passed; the sweep keeps
the oldest asset of each externalId."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from airflow_provider_ango.imports.settle import SettleLedger, extra_assets


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_chunk_is_due_only_settle_seconds_after_its_post() -> None:
    time = FakeTime()
    ledger = SettleLedger(30.0, time.clock, time.sleep)
    ledger.set_aside([("a", {})], posted_at=100.0, rounds=1)
    ledger.set_aside([("b", {})], posted_at=90.0, rounds=1)
    time.now = 110.0
    assert ledger.take_due(wait=False) is None  # neither has had 30 s yet
    time.now = 121.0
    first = ledger.take_due(wait=False)
    assert first is not None
    assert first.items == [("b", {})]  # the older POST first
    assert ledger.take_due(wait=False) is None
    second = ledger.take_due(wait=True)  # waits the 9 s left
    assert second is not None
    assert second.items == [("a", {})]
    assert time.slept == [9.0]
    assert ledger.take_due(wait=True) is None


def test_the_sweep_waits_settle_after_the_last_resend() -> None:
    time = FakeTime()
    ledger = SettleLedger(30.0, time.clock, time.sleep)
    assert ledger.wait_before_sweep() == 0.0
    ledger.note_resent(["a", "b"], posted_at=100.0)
    ledger.note_resent(["b", "c"], posted_at=110.0)
    assert list(ledger.resent) == ["a", "b", "c"]
    time.now = 120.0
    assert ledger.wait_before_sweep() == 20.0
    assert time.now == 140.0


@dataclass
class A:
    id: str


def test_extra_assets_are_all_but_the_oldest_of_each_external_id() -> None:
    assets = {
        "x": [A("65a0000000000000000000b2"), A("65a0000000000000000000a1"), A("65a0000000000000000000c3")],
        "y": [A("65a0000000000000000000d4")],
        "z": [A("65a0000000000000000000e5"), A("65a0000000000000000000e5")],  # the same asset twice
    }
    assert extra_assets(assets) == ["65a0000000000000000000b2", "65a0000000000000000000c3"]


def test_an_ambiguous_delete_is_sent_again_only_for_what_is_still_extra() -> None:
    from airflow_provider_ango.exceptions import AngoAmbiguousWriteError
    from airflow_provider_ango.imports.settle import delete_extras

    sent: list[list[str]] = []
    gone: set[str] = set()

    def delete(asset_ids: list[str]) -> None:
        sent.append(asset_ids)
        if len(sent) == 1:  # applied in part, then the connection dropped
            gone.add(asset_ids[0])
            raise AngoAmbiguousWriteError(None, "DELETE", "/v2/project/p/assets", "dropped")
        gone.update(asset_ids)

    extras = ["b", "c", "d"]
    removed = delete_extras(extras, delete, lambda: [a for a in extras if a not in gone], logging.getLogger())
    assert removed == 3
    assert sent == [["b", "c", "d"], ["c", "d"]]
    assert gone == {"b", "c", "d"}
