"""Asking every shard over Ray Serve: one handle a shard deployment, all shards asked at
once, a failed replica retried on another, a shard no replica answers reported by name.

Ray Serve routes each call to one of a shard's replicas. A replica that dies during a
call (its process killed, its node lost) fails that call; the call is sent again, and
Serve routes it to a live replica while it starts a new one in place of the dead. When
no replica answers within the deadline the whole search fails with ShardUnavailable
(503 naming the shard), never with the other shards' results alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.errors import SearchError, ShardUnavailable

CALL_TIMEOUT_S = 10.0  # a shard that has not answered by then, after retries, is unavailable
RETRY_PAUSE_S = 0.05  # first pause before a failed call is sent again; doubles each time


class RayShards:
    """The Shards (index/sharded.py) of a sharded index served by Ray Serve deployments."""

    def __init__(self, handles: list[Any], timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.handles = handles
        self.count = len(handles)
        self.timeout_s = timeout_s

    def ask(self, build: Path, method: str, *args: Any) -> list[Any]:
        """Each shard's answer, all shards asked at once."""
        deadline = time.monotonic() + self.timeout_s
        calls = [handle.call.remote(str(build), method, args) for handle in self.handles]
        return [
            self._answer(shard, call, deadline, (str(build), method, args))
            for shard, call in enumerate(calls)
        ]

    def _answer(self, shard: int, call: Any, deadline: float, request: tuple) -> Any:
        """The answer of `call` to `shard`, sent again after a replica's failure until
        the deadline; ShardUnavailable after it."""
        from ray.exceptions import RayTaskError

        pause = RETRY_PAUSE_S
        while True:
            try:
                return call.result(timeout_s=max(deadline - time.monotonic(), 0.001))
            except RayTaskError as exc:  # the shard ran and raised: its error, as raised
                cause = exc.cause if isinstance(exc.cause, BaseException) else None
                if isinstance(cause, SearchError | ValueError):
                    raise cause from None
                raise
            except Exception as exc:  # the replica died, or none answered in time
                if isinstance(exc, TimeoutError):
                    call.cancel()
                if time.monotonic() + pause >= deadline:
                    raise ShardUnavailable(
                        f"shard {shard} of {self.count} is unavailable (no replica answered "
                        f"in {self.timeout_s:g} s); try again when it is back"
                    ) from exc
                time.sleep(pause)
                pause *= 2
                call = self.handles[shard].call.remote(*request)
