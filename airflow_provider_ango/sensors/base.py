"""The shape both Ango sensors share: poke on a worker, or check once and wait in the triggerer."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any, Generic, TypeVar

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger

from airflow_provider_ango.exceptions import AngoProviderError
from airflow_provider_ango.hooks.ango import AngoHubHook

#: Extra time the deferral itself is given past the trigger's own deadline (the trigger ends the
#: wait with a clear message; Airflow's deferral timeout is only the backstop).
DEFER_GRACE_SECONDS = 300

SummaryT = TypeVar("SummaryT")


class AngoDeferrableSensor(BaseSensorOperator, Generic[SummaryT]):
    """A sensor whose check is one call of :meth:`check`, deferrable to a polling trigger.

    Deferrable (default from ``[operators] default_deferrable``): the first check runs on the
    worker; if the wait is not over, :meth:`trigger` goes on in the triggerer (no worker slot
    held) until done or ``timeout``. Otherwise it pokes in ``poke`` or ``reschedule`` mode.
    Subclasses say what a check is, when it is done, what it returns and how to report it.
    """

    def __init__(
        self,
        *,
        ango_conn_id: str = AngoHubHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ango_conn_id = ango_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AngoHubHook:
        return AngoHubHook(ango_conn_id=self.ango_conn_id)

    @abstractmethod
    def check(self) -> SummaryT:
        """One check (it logs what it saw)."""

    @abstractmethod
    def is_done(self, summary: SummaryT) -> bool: ...

    @abstractmethod
    def result(self, summary: SummaryT) -> Any:
        """The XCom of a finished wait (small, plain values)."""

    @abstractmethod
    def trigger(self, summary: SummaryT, timeout_at: float) -> BaseTrigger:
        """The trigger that goes on checking in the triggerer."""

    @abstractmethod
    def event_result(self, event: Mapping[str, Any]) -> Any:
        """The XCom of a finished wait from the trigger's success event."""

    @abstractmethod
    def timeout_message(self, event: Mapping[str, Any]) -> str:
        """Why the wait timed out, with the counts the trigger saw and what to do."""

    @abstractmethod
    def what(self) -> str:
        """The wait, for error messages (``"the imported assets of project X"``)."""

    def poke(self, context: Context) -> bool | PokeReturnValue:
        summary = self.check()
        return PokeReturnValue(is_done=self.is_done(summary), xcom_value=self.result(summary))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        summary = self.check()
        if self.is_done(summary):
            return self.result(summary)
        timeout = float(self.timeout)  # BaseSensorOperator keeps it as seconds
        self.log.info(
            "Deferring: the triggerer checks again every %s s (timeout %s s)", self.poke_interval, timeout
        )
        self.defer(
            trigger=self.trigger(summary, time.time() + timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + DEFER_GRACE_SECONDS),
        )
        return None  # not reached: defer() raises TaskDeferred

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(event, Mapping):
            raise AngoProviderError(
                f"Waiting for {self.what()} ended without an event from the trigger (got {event!r}); "
                "clear the task to wait again"
            )
        status = event.get("status")
        if status == "success":
            return self.event_result(event)
        if status == "timeout":
            raise AirflowSensorTimeout(self.timeout_message(event))
        raise AngoProviderError(
            f"Waiting for {self.what()} failed: {event.get('error', 'error')}: "
            f"{event.get('message', 'no message')}"
        )


__all__ = ["DEFER_GRACE_SECONDS", "AngoDeferrableSensor"]
