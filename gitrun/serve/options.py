"""What ``gitrun serve`` is asked to do, checked once (:class:`ServeOptions`), and passed as JSON to
a server started in another environment (``--env-manager venv``)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from gitrun.errors import InvalidInputError

ENV_MANAGERS = ("local", "venv", "virtualenv")  # virtualenv: MLflow's name for venv
DEFAULT_PORT = 5000
DEFAULT_TIMEOUT = 60.0  # MLflow's MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
DEFAULT_MAX_BODY = 10 * 1024**2


@dataclass(frozen=True)
class ServeOptions:
    """Options of a scoring server; see ``gitrun serve --help`` (docs/serving.md)."""

    uri: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout: float = DEFAULT_TIMEOUT  # seconds a request may take, body included (then 504)
    max_body: int = DEFAULT_MAX_BODY  # bytes (then 413, before the body is read)
    rev: str | None = None
    watch: bool = False
    fetch: bool = False
    watch_interval: float = 2.0  # seconds between looks at the repository's refs
    fetch_interval: float = 60.0  # seconds between `git fetch --tags` (with fetch)
    env_manager: str = "local"
    debug: bool = False
    tracking_uri: str | None = None
    trusted_types: tuple[str, ...] = ()
    safe: bool | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidInputError(f"--workers must be 1 or more, got {self.workers}")
        if not self.timeout > 0:
            raise InvalidInputError(f"--timeout must be a number of seconds above 0, got {self.timeout}")
        if self.max_body < 1:
            raise InvalidInputError(f"--max-body must be a size above 0 (e.g. 10MiB), got {self.max_body}")
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"--port must be 0-65535 (0 picks a free port), got {self.port}")
        if self.env_manager not in ENV_MANAGERS:
            raise InvalidInputError(f"--env-manager must be one of {', '.join(ENV_MANAGERS)}, got {self.env_manager!r}")
        if self.fetch and not self.watch:
            raise InvalidInputError("--fetch fetches tags for --watch: give --watch too")
        if not self.watch_interval > 0 or not self.fetch_interval > 0:
            raise InvalidInputError("--watch-interval and --fetch-interval must be numbers of seconds above 0")

    @property
    def venv(self) -> bool:
        return self.env_manager in ("venv", "virtualenv")

    @property
    def exposed(self) -> bool:
        """True when the server listens beyond this machine (anything but a loopback address)."""
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host != "localhost"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["trusted_types"] = tuple(data.get("trusted_types") or ())
        return cls(**data)
