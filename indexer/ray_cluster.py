"""The Ray cluster a reindex encodes on: one started here ("local") or a running one joined
("auto", or its address), and what it offers (nodes, CPUs, GPUs).

An address where nothing answers is refused at once with a one-line error naming it: left to
itself, ray.init retries an unreachable GCS for minutes. ray is imported inside functions,
so only `reindex --ray` pays for it (about 2.5 s here).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.errors import SearchError
from core.machine import usable_cores

LOCAL = "local"  # start a Ray instance on this machine for the reindex, stop it after
AUTO = "auto"  # join the running cluster: $RAY_ADDRESS, else the one `ray start` began here
CONNECT_TIMEOUT_S = 5.0  # a GCS port that does not accept a connection by then is down
GCS_PORT = 6379  # `ray start --head`'s default port
CLIENT_PORT = 10001  # the Ray Client server's default port (ray://)


class RayUnavailable(SearchError):
    """No Ray cluster can be started or reached at the address given; names the address."""


@dataclass(frozen=True)
class ClusterInfo:
    """What the cluster offers the encoding actors."""

    address: str  # as given: local, auto, host:port or ray://host:port
    nodes: int  # alive nodes
    cpus: float
    gpus: float


@contextmanager
def ray_session(address: str) -> Iterator[ClusterInfo]:
    """Connected to Ray at `address` for the block, disconnected after (a "local" instance
    stops with it). A process already connected (a test, a notebook) stays connected."""
    ray = _import_ray()
    if ray.is_initialized():
        yield cluster_info(address)
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # it would try to reach the internet
    _connect(ray, address)
    try:
        yield cluster_info(address)
    finally:
        ray.shutdown()


def cluster_info(address: str) -> ClusterInfo:
    """Alive nodes and total CPUs and GPUs of the cluster this process is connected to."""
    import ray

    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return ClusterInfo(address, nodes, resources.get("CPU", 0.0), resources.get("GPU", 0.0))


def local_cpus() -> int:
    """The CPUs a "local" instance offers: the cores this process may run on."""
    return usable_cores()


def _import_ray() -> Any:
    """The ray module, or RayUnavailable saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            f"reindex --ray needs the ray package ({exc}); install requirements.txt"
        ) from exc
    return ray


def _connect(ray: Any, address: str) -> None:
    """ray.init for `address`, quiet (no dashboard, no worker logs on the terminal)."""
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == LOCAL:
        # Ray turns token authentication on for the instance it starts, and says so: noise here.
        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
        ray.init(address="local", num_cpus=local_cpus(), include_dashboard=False, **quiet)
        return
    _check_reachable(address)
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, ImportError) as exc:  # ray:// needs grpcio
        raise RayUnavailable(f"cannot join the Ray cluster at {address!r}: {_line(exc)}") from exc


def _check_reachable(address: str) -> None:
    """RayUnavailable at once when nothing accepts a connection at a host:port address."""
    if address == AUTO:
        return  # ray.init finds $RAY_ADDRESS or the local cluster, or says at once it cannot
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayUnavailable(
            f"no Ray cluster answers at {address!r} ({reason}); start one with "
            "`ray start --head`, or use --ray local"
        ) from exc


def _host_port(address: str) -> tuple[str, int]:
    """Host and port of "host:port" or "ray://host[:port]" (default ports where none)."""
    client = address.startswith("ray://")
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError as exc:
        raise RayUnavailable(f"not a Ray address: {address!r} ({exc})") from exc
    if not parts.hostname or ("://" in address and not client):
        raise RayUnavailable(
            f"not a Ray address: {address!r}; give local, auto, host:port or ray://host:port"
        )
    return parts.hostname, port or (CLIENT_PORT if client else GCS_PORT)


def _line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
