"""Ango Hub emulator: a real HTTP server that answers the Ango REST API from memory.

It follows ango-api.md (the SDK's endpoints and Ango's REST documentation) and Ango's
import/export documentation, and imports nothing from the provider's hooks, operators or models
(so a mistake there is not mirrored here).

    with AngoEmulator(api_key="test-key") as hub:
        project = hub.control.seed_project(name="demo", batches=["b1"], assets=10)
        ...  # point the provider at hub.url with hub.api_key

Command line: ``python -m airflow_provider_ango.emulator --port 8765 --api-key K [switches]``.

By default it is as strict as Ango's REST documentation, never more lenient than the real
service is known to be. Every switch is a field of :class:`EmulatorSettings`
(``AngoEmulator(settings=EmulatorSettings(...))``), a command-line flag, and an argument of the
pytest fixtures (``airflow_provider_ango.testing.ango``):

=====================  ===========================  ============================================
setting                flag                          default and meaning
=====================  ===========================  ============================================
``page_limit``         ``--page-limit N|off``        100: the largest ``limit`` of any list
``page_limit_mode``    ``--page-limit-mode``         ``clamp`` to the cap, or ``reject`` (400)
``rate_limit``         ``--rate-limit``              ``100/min`` per organization, rolling;
                                                     ``N/s`` scales the window; ``off``
``retry_after``        ``--no-retry-after``          a 429 carries ``Retry-After`` (seconds)
``latency_ms``         ``--latency-ms N``            0: every ``/v2`` answer held N ms
``answer_shapes``      ``--answer-shapes``           ``rest`` (REST docs' answers) or ``sdk``
``batch_refs``         ``--batch-refs``              cloud import batches as ``names`` or ``ids``
``batch_update``       ``--batch-update``            ``{"batches": [...]}``: ``replace`` or ``merge``
``default_sort``       ``--default-sort``            ``-createdAt``: the order without ``sort``
``tie_order``          ``--tie-order``               tied sort keys: ``shuffle`` per request
                                                     (unless the sort has ``_id``) or ``stable``
``split_part_records`` ``--split-part-records N``    1000 records per ``format=split`` file
=====================  ===========================  ============================================

What the defaults mean for a client:

- lists: ``page`` from 1, ``limit`` 10 when absent, at most 100; ``sort`` with field names,
  ``-`` for descending, commas between fields, default ``-createdAt`` (newest first); ``total`` is
  the filtered count. Tied items come in a new order on every request unless ``_id`` is sorted on.
- rate limit: every key of one organization shares 100 requests per rolling 60 s; a 429 answers
  ``{"status": "fail", "message": "Rate limit exceeded"}``. The control API (``/_emulator/``) and
  signed file downloads (``/_files/``) are never counted. 429s are logged and counted in
  ``GET /_emulator/stats``.
- status codes: creates answer 201 (project, cloud import, storage); 400 validation, 401 bad or
  missing key, 403 a service-account key (``ango_sa_...``, added through ``POST /_emulator/keys``)
  whose scopes lack the endpoint's group, 404, 429.
- request forms of both sources are accepted (task ``filter`` and ``filters`` and the top-level
  ``status``/``stage``/``assignee``/``batches``; label import ``jsonContent`` and ``labels``; create
  batch ``{"name"}`` and ``{"batches"}``; storages ``provider/publicKey/privateKey`` and
  ``type/bucket/credentials``; export ``batches`` as JSON or comma-separated, ``format=split``,
  ``status``, ``includeAssets``; requeue ``filters.batches``); answers follow ``answer_shapes``
  (see ``views.py``, ``api_imports.py``, ``api_tasks.py``).

Control API additions for the limits: ``POST /_emulator/keys``, ``GET /_emulator/keys``,
``GET /_emulator/stats``, ``GET /_emulator/config`` (the settings), ``POST|DELETE
/_emulator/projects/{id}/assets`` (another writer meanwhile), and the ``apply_late`` fault (a
write applied seconds after its POST arrived, its answer held or dropped).
"""

from __future__ import annotations

from airflow_provider_ango.emulator.app import DEFAULT_URL_EXPIRY_SECONDS, AngoEmulator
from airflow_provider_ango.emulator.control import EmulatorControl, EmulatorControlError
from airflow_provider_ango.emulator.settings import EmulatorSettings, RateLimit

__all__ = [
    "DEFAULT_URL_EXPIRY_SECONDS",
    "AngoEmulator",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorSettings",
    "RateLimit",
]
