"""What request handlers share: the parsed request, the emulator's parts, and routing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.emulator.common import bad_request
from airflow_provider_ango.emulator.faults import FaultBook, RequestLog
from airflow_provider_ango.emulator.files import ExportFiles
from airflow_provider_ango.emulator.state import EmulatorState


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
    base_url: str = ""


Handler = Callable[..., Any]


@dataclass
class Router:
    """Method + path regex -> handler(core, request, *path_groups)."""

    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)

    def add(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        compiled = re.compile(f"^{pattern}$")

        def register(handler: Handler) -> Handler:
            self.routes.append((method, compiled, handler))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]] | None:
        for route_method, pattern, handler in self.routes:
            if route_method == method:
                found = pattern.match(path)
                if found is not None:
                    return handler, found.groups()
        return None
