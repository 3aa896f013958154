"""``AngoEmulator``: start the emulator in a background thread of this process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from airflow_provider_ango.emulator.common import Clock, ClosingContext
from airflow_provider_ango.emulator.control import EmulatorControl
from airflow_provider_ango.emulator.core import Core
from airflow_provider_ango.emulator.faults import DEFAULT_LOG_SIZE, FaultBook, RequestLog
from airflow_provider_ango.emulator.files import ExportFiles
from airflow_provider_ango.emulator.server import EmulatorHTTPServer, check_loopback
from airflow_provider_ango.emulator.settings import EmulatorSettings
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.traffic import RateLimiter

DEFAULT_URL_EXPIRY_SECONDS = 120_000  # what Ango documents for its signed export URLs


class AngoEmulator(ClosingContext):
    """A real HTTP Ango Hub emulator on a loopback port.

    ``with AngoEmulator() as hub: hub.url, hub.api_key, hub.control.seed_project(...)``.
    ``port=0`` picks a free port. ``clock`` (seconds since the epoch) replaces the wall
    clock, e.g. to expire signed URLs without waiting. ``settings`` (an
    :class:`EmulatorSettings`) holds the documented limits and the readings of the sources'
    disagreements; the default is the strict one (Ango's REST documentation).
    """

    def __init__(
        self,
        api_key: str = "test-key",
        host: str = "127.0.0.1",
        port: int = 0,
        url_expiry: float = DEFAULT_URL_EXPIRY_SECONDS,
        clock: Callable[[], float] | None = None,
        request_log_size: int = DEFAULT_LOG_SIZE,
        public_url: str | None = None,
        in_container: bool = False,
        settings: EmulatorSettings | None = None,
    ) -> None:
        self.api_key = api_key
        self.settings = settings if settings is not None else EmulatorSettings()
        self.host = check_loopback(host, in_container=in_container)
        # The base of every URL the emulator hands out (signed export links): the bound address
        # unless clients reach it by another name, as containers do.
        self.public_url = public_url.rstrip("/") if public_url else None
        self.port = port
        self.url_expiry = url_expiry
        self.clock = Clock(clock)
        self._request_log_size = request_log_size
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None
        self.core: Core | None = None

    @property
    def url(self) -> str:
        if self.core is None:
            raise RuntimeError("The emulator is not started; call start() or use it as a context manager")
        return self.core.base_url

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            raise RuntimeError("The emulator is not started; call start() or use it as a context manager")
        return self._control

    @property
    def state(self) -> EmulatorState:
        """In-process access to the state (for measurements; use ``control`` otherwise)."""
        if self.core is None:
            raise RuntimeError("The emulator is not started")
        return self.core.state

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str = "condition") -> None:
        """Block until ``condition()`` holds, re-checking it each time a request arrives or is answered.

        For in-process tests: no polling interval, and a clear ``TimeoutError`` naming ``what``.
        The condition runs without any emulator lock held, so it may call the control API.
        """
        if self.core is None:
            raise RuntimeError("The emulator is not started")
        log = self.core.log
        deadline = time.monotonic() + timeout
        while True:
            seen = log.version
            if condition():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what} did not happen within {timeout:g} s")
            log.wait_for_change(seen, remaining)

    def bind(self) -> EmulatorHTTPServer:
        """Create the listening socket and the emulator's parts (no thread yet)."""
        if self._server is not None:
            raise RuntimeError("The emulator is already started")
        core = Core(
            state=EmulatorState(self.api_key, self.clock, self.url_expiry),
            faults=FaultBook(),
            log=RequestLog(self._request_log_size),
            files=ExportFiles(self.clock),
            settings=self.settings,
            limiter=RateLimiter(self.settings.limiter),
        )
        server = EmulatorHTTPServer((self.host, self.port), core)
        bound_host, bound_port = server.server_address[:2]
        self.port = int(bound_port)
        local_url = f"http://{bound_host!s}:{self.port}"
        core.base_url = self.public_url or local_url
        self.core = core
        self._server = server
        self._control = EmulatorControl(local_url)
        return server

    def start(self) -> AngoEmulator:
        server = self.bind()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="ango-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self.core is not None:
            self.core.late.cancel_all()  # wakes requests held for a late write
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._control is not None:
            self._control.close()
        if self.core is not None:
            self.core.files.cleanup()

    close = stop

    def __enter__(self) -> AngoEmulator:
        return self.start()
