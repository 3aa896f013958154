"""What request handlers share: the parsed request, the emulator's parts, and routing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.emulator.common import bad_request, parse_json
from airflow_provider_ango.emulator.faults import FaultBook, RequestLog
from airflow_provider_ango.emulator.files import ExportFiles
from airflow_provider_ango.emulator.late import LateWrites
from airflow_provider_ango.emulator.settings import EmulatorSettings
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.traffic import RateLimiter, TrafficStats


@dataclass
class Request:
    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    body: Any = None

    def param(self, name: str) -> str | None:
        """A query parameter given at most once (repeating one is a 400)."""
        values = self.params.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise bad_request(f"Query parameter {name} is given {len(values)} times")
        return values[0]

    def single_params(self) -> dict[str, str]:
        return {name: value for name in self.params if (value := self.param(name)) is not None}

    def json_param(self, name: str) -> Any:
        raw = self.param(name)
        return None if raw is None else parse_json(raw, f"Query parameter {name}")

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise bad_request("The request body must be a JSON object")
        return self.body


@dataclass
class Core:
    state: EmulatorState
    faults: FaultBook
    log: RequestLog
    files: ExportFiles
    settings: EmulatorSettings = field(default_factory=EmulatorSettings)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(None))
    stats: TrafficStats = field(default_factory=TrafficStats)
    late: LateWrites = field(default_factory=LateWrites)
    base_url: str = ""


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    group: str  # the endpoint group a service-account scope names (access.ENDPOINT_GROUPS)
    status: int  # the success status: 201 for the documented creates


@dataclass
class Router:
    """Method + path regex -> handler(core, request, *path_groups)."""

    routes: list[Route] = field(default_factory=list)

    def add(
        self, method: str, pattern: str, group: str = "", status: int = 200
    ) -> Callable[[Handler], Handler]:
        compiled = re.compile(f"^{pattern}$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, compiled, handler, group, status))
            return handler

        return register

    def include(self, *others: Router) -> Router:
        for other in others:
            self.routes.extend(other.routes)
        return self

    def match(self, method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
        for route in self.routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found is not None:
                    return route, found.groups()
        return None
