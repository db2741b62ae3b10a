"""`manage.py serve --ray`: the sharded application started on a Ray cluster, served until
Ctrl+C (or SIGTERM), then taken down with the Ray Serve instance this command began."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from core.config import Settings
from core.errors import SearchError

APP = "poisk"  # the Ray Serve application's name
ROUTE_WAIT_S = 60.0  # how long the HTTP proxy may take to route to a deployed application


def start(
    settings: Settings,
    shards: int,
    replicas: int,
    host: str,
    port: int,
    timeout_s: float,
    loaders: dict[str, Callable[..., Any]] | None = None,
) -> None:
    """Deploy the application on the Ray cluster this process is connected to, its HTTP
    proxy on host:port (on the head node), and return once every replica is up."""
    from ray import serve

    from cluster.deployments import application

    serve.start(http_options={"host": host, "port": port}, proxy_location="HeadOnly")
    app = application(settings, shards, replicas, timeout_s, loaders)
    serve.run(app, name=APP, route_prefix="/", blocking=False)
    wait_for_route("127.0.0.1" if host in ("0.0.0.0", "::") else host, port)


def wait_for_route(host: str, port: int, timeout_s: float = ROUTE_WAIT_S) -> None:
    """Block until Serve's HTTP proxy routes to the application: its replicas are up a
    moment before the proxy learns the route, and until then it answers 404.
    SearchError when it does not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/-/routes", timeout=2) as answer:
                if "/" in json.loads(answer.read() or b"{}"):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SearchError(
        f"Ray Serve's proxy on {host}:{port} did not route to poisk in {timeout_s:g} s"
    )


def stop() -> None:
    """Take the application and Ray Serve down."""
    from ray import serve

    serve.shutdown()


def wait_for_signal() -> None:
    """Block until SIGINT (KeyboardInterrupt, as Ctrl+C) or SIGTERM (returns)."""
    stopped: list[int] = []

    def on_term(signum: int, frame: Any) -> None:
        stopped.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stopped:
            signal.pause()
    finally:
        signal.signal(signal.SIGTERM, previous)
