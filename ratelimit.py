"""Rate limiting of share-token guesses on ``/view`` and ``/view/export``.

A token has 256 random bits, so guessing one is hopeless; the limit keeps it so and keeps
scripted probing from costing database reads. Every answer 404 of those routes (an unknown or
malformed token) counts one guess against the requesting user and against the client address.
When either has made ``SHARE_GUESS_LIMIT`` (default 10) guesses in the current window of
``SHARE_GUESS_WINDOW_SECONDS`` (default 60), every request of that user or address to those
routes answers 429 with ``Retry-After`` until the window ends — known tokens included, so a
blocked guesser learns nothing. A user who opens real links is never counted.

With ``REDIS_URL`` the counters live in Redis (``INCR`` + ``EXPIRE``, one key per window), so
all workers and hosts share them; without it, in process memory. If Redis cannot be reached
the limiter falls back to the process's own counters for that request rather than failing it.
Behind a load balancer, let the proxy set ``X-Forwarded-For`` and wrap the app in werkzeug's
``ProxyFix``, or every client shares the balancer's address.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

LIMITED_PATHS = ("/view", "/view/export")
DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 60
TOO_MANY_GUESSES = "Too many unknown share links. Try again in {wait}."
MAX_TRACKED = 100_000
EXTENSION = "dynamics.share_guess_limiter"


class GuessCounter:
    """Counts events per key in fixed windows, in Redis when a client is given, else in memory."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        redis_client: Any | None = None,
        prefix: str = "dynamics:guess:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.redis = redis_client
        self.prefix = prefix
        self.clock = clock
        self._local: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def _window(self) -> tuple[int, float]:
        """The current window's number and the seconds left in it."""
        now = self.clock()
        number = int(now // self.window_seconds)
        return number, (number + 1) * self.window_seconds - now

    def _redis_key(self, key: str, window: int) -> str:
        return f"{self.prefix}{key}:{window}"

    def count(self, key: str) -> int:
        """Events of ``key`` in the current window."""
        window, _left = self._window()
        if self.redis is not None:
            try:
                value = self.redis.get(self._redis_key(key, window))
                return int(value or 0)
            except Exception as error:  # noqa: BLE001 - any Redis failure: count locally
                log.warning("rate limiter: Redis unavailable, counting in process: %s", error)
        with self._lock:
            return self._local.get((key, window), 0)

    def add(self, key: str) -> int:
        """Count one event of ``key``; the count of the current window after it."""
        window, left = self._window()
        if self.redis is not None:
            try:
                name = self._redis_key(key, window)
                pipe = self.redis.pipeline()
                pipe.incr(name)
                pipe.expire(name, max(1, math.ceil(left)) + 1)
                value, _ = pipe.execute()
                return int(value)
            except Exception as error:  # noqa: BLE001
                log.warning("rate limiter: Redis unavailable, counting in process: %s", error)
        with self._lock:
            if len(self._local) >= MAX_TRACKED:  # old windows go first; bound the memory
                for stale in [k for k in self._local if k[1] != window]:
                    del self._local[stale]
                if len(self._local) >= MAX_TRACKED:
                    self._local.clear()
            value = self._local.get((key, window), 0) + 1
            self._local[(key, window)] = value
            return value

    def retry_after(self, keys: list[str]) -> float:
        """Seconds until any of ``keys`` may try again (0 if all may now)."""
        if any(self.count(key) >= self.limit for key in keys):
            return self._window()[1]
        return 0.0


def _keys() -> list[str]:
    keys = [f"addr:{request.remote_addr or '-'}"]
    if current_user.is_authenticated:
        keys.append(f"user:{current_user.get_id()}")
    return keys


def _limited() -> bool:
    return request.path.rstrip("/") in LIMITED_PATHS


def _counter() -> GuessCounter:
    return current_app.extensions[EXTENSION]


def _seconds(count: int) -> str:
    return "1 second" if count == 1 else f"{count} seconds"


class TooManyGuesses(TooManyRequests):
    """429 for a user or address that has asked for too many unknown share tokens."""

    def __init__(self, wait: float) -> None:
        self.wait = max(1, math.ceil(wait))
        super().__init__(TOO_MANY_GUESSES.format(wait=_seconds(self.wait)),
                         retry_after=self.wait)


def blocked_for() -> float:
    """Seconds the current request's user and address must wait before looking up a token."""
    if not has_request_context() or EXTENSION not in current_app.extensions:
        return 0.0
    return _counter().retry_after(_keys())


def guard() -> None:
    """Raise ``TooManyGuesses`` if the current request may not look up a share token now.

    For any code that resolves a token on behalf of a request (pages, Dash callbacks), not
    only the two routes this module watches.
    """
    wait = blocked_for()
    if wait > 0:
        raise TooManyGuesses(wait)


def count_guess() -> None:
    """Count one unknown token asked for by the current request (once per request)."""
    if not has_request_context() or EXTENSION not in current_app.extensions:
        return
    if g.get("share_guess_counted"):
        return
    g.share_guess_counted = True
    counter = _counter()
    for key in _keys():
        counter.add(key)


def refuse_blocked() -> Response | None:
    """Before the route: 429 for a user or address that has guessed too often."""
    if not _limited():
        return None
    wait = blocked_for()
    if wait <= 0:
        return None
    error = TooManyGuesses(wait)
    response = jsonify(error=error.description)
    response.status_code = 429
    response.headers["Retry-After"] = str(error.wait)
    response.headers["Cache-Control"] = "no-store"
    return response


def count_unknown(response: Response) -> Response:
    """After the route: a 404 of a watched route is one guess."""
    if response.status_code == 404 and _limited():
        count_guess()
    return response


def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def init_app(server: Flask) -> None:
    """Install the limiter on ``server``.

    Register it after the login requirement (anonymous requests go to the login first) and
    before the share routes, whose 404 for an unknown token must not answer a blocked guesser.
    """
    redis_url = server.config.get("REDIS_URL")
    prefix = str(server.config.get("CACHE_KEY_PREFIX") or "dynamics:") + "guess:"
    server.extensions[EXTENSION] = GuessCounter(
        limit=int(server.config.get("SHARE_GUESS_LIMIT", DEFAULT_LIMIT)),
        window_seconds=float(
            server.config.get("SHARE_GUESS_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS)
        ),
        redis_client=_redis_client(redis_url) if redis_url else None,
        prefix=prefix,
    )
    server.before_request(refuse_blocked)
    server.after_request(count_unknown)
