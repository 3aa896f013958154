"""What the provider's operators share: their lineage, the Ango Hub hook they open, their links.

* **Lineage** (:class:`~airflow_provider_ango.lineage.ReportsLineage`): ``execute`` records its
  inputs and outputs as URIs; ``get_openlineage_facets_on_complete`` turns them into datasets.
* **The hook.** ``self.hook`` is built on first use; ``execute`` runs inside :meth:`hook_in_use`,
  which closes its clients however ``execute`` ends (a later use builds new ones). :meth:`on_kill`
  shuts it: the request or download in flight is cut short and no new one is sent.
* **Extra links** (:mod:`airflow_provider_ango.links`): :meth:`persist_links` records the project
  (and batch) URLs in XCom, from the connection's ``ui_url`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.lineage import ReportsLineage
from airflow_provider_ango.links import persist_ango_links

if TYPE_CHECKING:
    from airflow.sdk import Context


class AngoBaseOperator(ReportsLineage, BaseOperator):
    """Base of the provider's operators (not a task of its own)."""

    #: Set by the subclasses that talk to Ango Hub (their ``ango_conn_id`` argument).
    ango_conn_id: str = AngoHubHook.default_conn_name

    def new_hook(self) -> AngoHubHook:
        """The hook :attr:`hook` is built with (an operator with its own timeout overrides this)."""
        return AngoHubHook(ango_conn_id=self.ango_conn_id)

    @cached_property
    def hook(self) -> AngoHubHook:
        return self.new_hook()

    @contextmanager
    def hook_in_use(self) -> Iterator[AngoHubHook]:
        """``self.hook`` for the length of ``execute``: its clients are closed when it ends."""
        try:
            yield self.hook
        finally:
            self.close_hook()

    def close_hook(self) -> None:
        hook: AngoHubHook | None = self.__dict__.get("hook")
        if hook is not None:
            hook.close()

    def on_kill(self) -> None:
        """Shut the Ango Hub hook: the request or download in flight fails at once, and so would any
        later call (:class:`~airflow_provider_ango.exceptions.AngoHookClosedError`)."""
        hook: AngoHubHook | None = self.__dict__.get("hook")
        if hook is None:
            self.log.info("Killed: no Ango Hub connection was open")
            return
        hook.shut(f"task {self.task_id} was killed")
        self.log.warning(
            "Killed: closed the Ango Hub connection %r; a request or download in flight is cut short "
            "and no new one is sent. %s",
            hook.ango_conn_id,
            self.kill_note(),
        )

    def kill_note(self) -> str:
        """What a retry of this task finds after a kill (said in the log by :meth:`on_kill`)."""
        return "A retry starts over."

    def link_ui_url(self) -> str | None:
        """The connection's ``ui_url`` extra (None: the default web app). A link is no reason to fail:
        an operator that needs no connection (the build) links to the default web app without one."""
        try:
            return self.hook.ui_url
        except AngoConfigError:
            return None

    def persist_links(self, context: Context, project_id: str, batch_id: str | None = None) -> None:
        """Record this task's links to the project (and batch) for the UI (XCom, no secret)."""
        if project_id:
            persist_ango_links(context, self.link_ui_url(), project_id, batch_id)


__all__ = ["AngoBaseOperator"]
