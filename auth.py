"""Login, logout and the login requirement of every route (flask-login).

Every route needs a login except ``/login``, ``/healthz`` and the static files under
``/assets/`` (the login page's stylesheet). Anonymous page requests are redirected to
``/login?next=<the page>``; anonymous requests to Dash's own routes (``/_dash-…``, whose callers
are scripts, not people) and to anything but a page ``GET`` get ``401``.

Repeated failures are slowed down by a lockout per (login, client address), kept in process
memory: the first ``LOGIN_FREE_FAILURES`` (default 3) failures cost nothing; each further one
locks that pair for twice as long as the previous one, from 1 second up to
``LOGIN_MAX_LOCK_SECONDS`` (default 300). While locked, an attempt is refused without checking
the password. A successful login clears the counter; a pair idle for 15 minutes is forgotten.
A lockout, unlike a sleep, holds no worker thread, and keying on the address too means nobody
can lock a colleague out from elsewhere. Several processes each keep their own counters, which
only multiplies the allowed rate by the number of processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy.exc import InterfaceError, OperationalError

from extensions import db, login_manager
from store.users import AccountInfo, authenticate, load_user

WRONG_CREDENTIALS = "Wrong login or password."
LOCKED_OUT = "Too many failed attempts. Try again in {wait}."
LOGGED_OUT = "You have been logged out."
LOGIN_REQUIRED = "Please log in to see this page."
UNAUTHORIZED = "Authentication required."

PUBLIC_ENDPOINTS = frozenset({"login", "healthz"})
PUBLIC_PREFIXES = ("/assets/",)
DASH_PREFIX = "/_dash-"
DEFAULT_FREE_FAILURES = 3
DEFAULT_MAX_LOCK_SECONDS = 300
FORGET_AFTER_SECONDS = 15 * 60
MAX_TRACKED = 10_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    """Counts failed logins per (login, address) and says how long the pair is locked."""

    def __init__(
        self,
        free_failures: int = DEFAULT_FREE_FAILURES,
        max_lock_seconds: float = DEFAULT_MAX_LOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_lock_seconds = max_lock_seconds
        self.clock = clock
        self._entries: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(login: str, address: str | None) -> tuple[str, str]:
        return ((login or "").strip().lower(), address or "")

    def locked_for(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        with self._lock:
            entry = self._entries.get(key)
            return max(0.0, entry.locked_until - self.clock()) if entry else 0.0

    def failure(self, key: tuple[str, str]) -> None:
        now = self.clock()
        with self._lock:
            self._forget_idle(now)
            entry = self._entries.setdefault(key, _Failures())
            entry.count += 1
            entry.last_failure = now
            beyond = entry.count - self.free_failures
            if beyond > 0:
                entry.locked_until = now + min(2.0 ** (beyond - 1), self.max_lock_seconds)

    def success(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        idle = [
            key
            for key, entry in self._entries.items()
            if now - entry.last_failure > FORGET_AFTER_SECONDS and entry.locked_until <= now
        ]
        for key in idle:
            del self._entries[key]
        if len(self._entries) >= MAX_TRACKED:  # bound the memory an attacker can make us use
            oldest = sorted(self._entries, key=lambda k: self._entries[k].last_failure)
            for key in oldest[: len(oldest) // 2]:
                del self._entries[key]


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: never an open redirect."""
    text = (target or "").strip()
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return "/"
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return "/"
    return text


def _requested_path() -> str:
    """The path and query string of the current request, for ``next``."""
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def _is_public() -> bool:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return True
    return request.path.startswith(PUBLIC_PREFIXES)


def _unauthorized() -> Response:
    """flask-login's answer to an anonymous request: a redirect for a page, else 401."""
    if request.method == "GET" and not request.path.startswith(DASH_PREFIX):
        return redirect("/login?" + urlencode({"next": safe_next(_requested_path())}))
    response = jsonify(error=UNAUTHORIZED)
    response.status_code = 401
    return response


# The logged-in account, kept in the (signed) session so that a page can still say "the
# database is unavailable" during an outage instead of failing to know who is asking.
SESSION_ACCOUNT = "_dynamics_account"


def _load_user(user_id: str) -> AccountInfo | None:
    try:
        wanted = int(user_id)
    except (TypeError, ValueError):
        return None
    try:
        return load_user(db.engine, wanted)
    except (OperationalError, InterfaceError):
        saved = session.get(SESSION_ACCOUNT)
        if saved and saved[0] == wanted:
            return AccountInfo(*saved)
        raise


def _require_login() -> Response | None:
    if _is_public() or current_user.is_authenticated:
        return None
    return _unauthorized()


LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Customer Dynamics</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css">
</head>
<body class="bg-light">
<main class="container" style="max-width: 24rem; margin-top: 12vh">
  <h1 class="h3 mb-1">Customer Dynamics</h1>
  <p class="text-muted mb-4">Log in to see your customer reports.</p>
  {% if message %}
  <div id="login-message" class="alert alert-{{ message_kind }}" role="alert">{{ message }}</div>
  {% endif %}
  <form id="login-form" method="post" action="/login" novalidate>
    <input type="hidden" name="next" value="{{ next }}">
    <div class="mb-3">
      <label for="login" class="form-label">Login</label>
      <input type="text" class="form-control" id="login" name="login" value="{{ login }}"
             autocomplete="username" autocapitalize="none" required autofocus>
    </div>
    <div class="mb-3">
      <label for="password" class="form-label">Password</label>
      <input type="password" class="form-control" id="password" name="password"
             autocomplete="current-password" required>
    </div>
    <div class="form-check mb-3">
      <input type="checkbox" class="form-check-input" id="remember" name="remember" value="1"
             {% if remember %}checked{% endif %}>
      <label for="remember" class="form-check-label">Remember me on this computer</label>
    </div>
    <button type="submit" id="login-submit" class="btn btn-primary w-100">Log in</button>
  </form>
</main>
</body>
</html>
"""


def _login_page(
    *, message: str = "", kind: str = "danger", login: str = "", next_url: str = "/",
    remember: bool = False, status: int = 200,
) -> Response:
    html = render_template_string(
        LOGIN_PAGE, message=message, message_kind=kind, login=login, next=next_url,
        remember=remember,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _seconds(count: int) -> str:
    return "1 second" if count == 1 else f"{count} seconds"


def _throttle() -> LoginThrottle:
    return current_app.extensions["dynamics.login_throttle"]


def login() -> Response:
    """``GET /login``: the form; ``POST /login``: check the password and go back to ``next``."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url)
        message, kind = "", "danger"
        if request.args.get("logged_out"):
            message, kind = LOGGED_OUT, "success"
        elif request.args.get("next"):
            message, kind = LOGIN_REQUIRED, "info"
        return _login_page(message=message, kind=kind, next_url=next_url)

    login_name = (request.form.get("login") or "").strip()
    password = request.form.get("password") or ""
    remember = request.form.get("remember") in ("1", "on", "true", "yes")
    key = LoginThrottle.key(login_name, request.remote_addr)
    wait = _throttle().locked_for(key)
    if wait > 0:
        response = _login_page(
            message=LOCKED_OUT.format(wait=_seconds(math.ceil(wait))), login=login_name,
            next_url=next_url, remember=remember, status=429,
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = authenticate(db.engine, login_name, password) if login_name and password else None
    if user is None:
        _throttle().failure(key)
        return _login_page(
            message=WRONG_CREDENTIALS, login=login_name, next_url=next_url, remember=remember
        )
    _throttle().success(key)
    login_user(user, remember=remember)
    session[SESSION_ACCOUNT] = [user.id, user.login, user.role, user.company_id, user.email]
    return redirect(next_url)


LOGOUT_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Log out · Customer Dynamics</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css">
</head>
<body class="bg-light">
<main class="container" style="max-width: 24rem; margin-top: 12vh">
  <h1 class="h4 mb-3">Log out of Customer Dynamics?</h1>
  <form method="post" action="/logout" class="d-flex gap-2">
    <button type="submit" id="logout-confirm" class="btn btn-primary">Log out</button>
    <a href="/" class="btn btn-outline-secondary">Back to the dashboard</a>
  </form>
</main>
</body>
</html>
"""


def logout() -> Response:
    """``POST /logout``: forget the session (and the remember-me cookie).

    ``GET`` only asks: a link or an image on another site must not log anyone out.
    """
    if request.method == "GET":
        return Response(LOGOUT_PAGE, mimetype="text/html")
    logout_user()
    session.pop(SESSION_ACCOUNT, None)
    return redirect("/login?logged_out=1")


def init_app(server: Flask) -> None:
    """Install the login routes and the login requirement on ``server``."""
    server.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=30))
    server.extensions["dynamics.login_throttle"] = LoginThrottle(
        free_failures=int(server.config.get("LOGIN_FREE_FAILURES", DEFAULT_FREE_FAILURES)),
        max_lock_seconds=float(
            server.config.get("LOGIN_MAX_LOCK_SECONDS", DEFAULT_MAX_LOCK_SECONDS)
        ),
    )
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
    server.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    server.before_request(_require_login)
