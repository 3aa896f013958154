"""Connection pools wide enough for the requests a step keeps in flight.

Each SDK pools its HTTP connections per host, ten by default: botocore's ``max_pool_connections``,
and the ``requests`` sessions under google-cloud-storage (``AuthorizedSession``) and azure-core
(``RequestsTransport``). A pool smaller than the number of threads does not block them (urllib3's
pools do not block by default); it opens a connection for each request past the pool and throws it
away afterwards, with a "Connection pool is full, discarding connection" warning each time: a new
TCP (and TLS) handshake per request, the round trips concurrency was meant to hide. So the stores
size their pools to at least the concurrency (see ``BucketHook.reserve_connections``).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def pool_kwargs_for(user_config_kwargs: Any, size: int) -> dict[str, Any]:
    """The botocore ``Config`` options to add so that the client pools ``size`` connections.

    An explicit ``max_pool_connections`` in the connection's ``config_kwargs`` is the user's
    choice and is kept (a warning says when it is below ``size``); otherwise it becomes ``size``.
    """
    given = user_config_kwargs.get("max_pool_connections") if isinstance(user_config_kwargs, dict) else None
    if given is None:
        return {"max_pool_connections": size}
    if int(given) < size:
        log.warning(
            "The connection's config_kwargs set max_pool_connections=%s, below the %d requests kept in "
            "flight: requests past the pool open (and drop) a connection each. Raise it or remove it.",
            given,
            size,
        )
    return {}


def widen_session(session: Any, size: int) -> int:
    """Remount every plain ``HTTPAdapter`` of a ``requests`` session that pools fewer than ``size``.

    The new adapter has the old one's class, retries and blocking, and ``pool_maxsize=size``;
    prefixes that shared one adapter share the new one. Adapters of another make (a mutual-TLS
    adapter, say) are left alone. Returns how many adapters were replaced.
    """
    from requests.adapters import HTTPAdapter

    replaced: dict[int, Any] = {}
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, HTTPAdapter) or type(adapter).__init__ is not HTTPAdapter.__init__:
            continue
        if int(getattr(adapter, "_pool_maxsize", 0)) >= size:
            continue
        wider = replaced.get(id(adapter))
        if wider is None:
            wider = type(adapter)(
                pool_connections=int(getattr(adapter, "_pool_connections", 10)),
                pool_maxsize=size,
                max_retries=adapter.max_retries,
                pool_block=bool(getattr(adapter, "_pool_block", False)),
            )
            replaced[id(adapter)] = wider
            adapter.close()  # nothing was sent through it yet, or its idle connections go
        session.mount(prefix, wider)
    return len(replaced)


__all__ = ["pool_kwargs_for", "widen_session"]
