"""Load test (not part of the suite): 20 users running monthly reports against gunicorn.

    .venv/bin/python bench/load_test.py                       # SQLite demo data, 2 workers
    .venv/bin/python bench/load_test.py --database-url postgresql://postgres@127.0.0.1/loadtest \
        --redis-url redis://127.0.0.1:6379/14

Seeds a demo database (``dynamics seed-demo``, default 2,000 clients × 730 days, in a temporary
folder unless ``--database-url`` names one, which is then reseeded), gives a few of its users
(admin, managers, resellers) a password, and starts the Procfile's ``web:`` process (gunicorn,
``--workers`` workers × ``--threads`` threads). Then ``--users`` threads, each a
``requests.Session``, log in with ``POST /login`` and press Query again and again for
``--duration`` seconds: the same ``POST /_dash-update-component`` the browser sends, built the way
the browser builds it — from ``/_dash-dependencies`` and the page the ``page.children`` callback
renders for ``/`` (the form as the server filled it), with the interval set to a monthly report
of the last twelve whole months.

Prints the number of reports, errors, throughput and p50 / p95 / max latency, overall and after
each worker has loaded its ledgers (the first request of each user excluded). Target: no
errors, p95 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DYNAMICS = Path(sys.executable).with_name("dynamics")
PASSWORD = "load-test-password"
QUERY_BUTTON = {"id": "query-button", "property": "n_clicks"}


# --------------------------------------------------------------------------- the page's callbacks


def _parse_output(spec: str) -> list[dict[str, Any]]:
    """``..a.b...c.d..`` (or ``a.b``) as [{"id": "a", "property": "b"}, …]; ids may be JSON."""
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = []
    for part in parts:
        component, prop = part.rsplit(".", 1)
        prop = prop.split("@", 1)[0]  # allow_duplicate outputs carry a hash
        outputs.append({"id": json.loads(component) if component.startswith("{") else component,
                        "property": prop})
    return outputs


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every component (``{"type", "namespace", "props"}``) of a rendered layout."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _matches(pattern: Any, concrete: Any) -> bool:
    if isinstance(pattern, str) or isinstance(concrete, str):
        return pattern == concrete
    return set(pattern) == set(concrete) and all(
        isinstance(v, list) or concrete[k] == v for k, v in pattern.items()
    )


@dataclass
class QueryRequest:
    """The body of a press of Query, as the browser would send it for a given page."""

    body: dict[str, Any]

    @classmethod
    def build(cls, dependencies: list[dict[str, Any]], page: Any,
              form: dict[str, Any]) -> QueryRequest:
        callback = next(c for c in dependencies if QUERY_BUTTON in
                        [{"id": i["id"], "property": i["property"]} for i in c["inputs"]])
        components = list(_walk(page))

        def concrete(pattern: Any) -> list[dict[str, Any]]:
            return [c["props"] for c in components if "id" in c["props"]
                    and _matches(pattern, c["props"]["id"])]

        def slot(pattern: Any, prop: str, with_value: bool) -> Any:
            if isinstance(pattern, dict) and any(isinstance(v, list) for v in pattern.values()):
                return [{"id": p["id"], "property": prop,
                         **({"value": p.get(prop)} if with_value else {})}
                        for p in concrete(pattern)]
            props = (concrete(pattern) or [{}])[0]
            value = props.get(prop)
            if isinstance(pattern, str) and pattern in form:
                value = form[pattern]
            return {"id": pattern, "property": prop, **({"value": value} if with_value else {})}

        outputs_spec = _parse_output(callback["output"])
        outputs = [slot(o["id"], o["property"], False) for o in outputs_spec]
        state = [slot(s["id"], s["property"], True) for s in callback["state"]]
        body = {
            "output": callback["output"],
            "outputs": outputs if callback["output"].startswith("..") else outputs[0],
            "inputs": [{**QUERY_BUTTON, "value": 1}],
            "state": state,
            "changedPropIds": ["query-button.n_clicks"],
        }
        return cls(body)


def render_page(session: requests.Session, base: str, dependencies: list[dict[str, Any]]) -> Any:
    """What the ``page.children`` callback renders for ``/`` for this session's user."""
    callback = next(c for c in dependencies if c["output"] == "page.children")
    body = {
        "output": "page.children",
        "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "state": [{"id": s["id"], "property": s["property"], "value": ""}
                  for s in callback["state"]],
        "changedPropIds": ["url.pathname"],
    }
    response = session.post(f"{base}/_dash-update-component", json=body, timeout=120)
    response.raise_for_status()
    return response.json()["response"]["page"]["children"]


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _procfile(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise SystemExit(f"Procfile has no {name}: entry")


def _ensure_postgresql_database(url: str) -> None:
    import psycopg

    from config import normalise_database_url

    plain = normalise_database_url(url).replace("postgresql+psycopg://", "postgresql://")
    server, _, name = plain.split("?")[0].rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(env: dict[str, str], clients: int, days: int) -> list[str]:
    """Seed the database; give some of its users a password; their logins."""
    subprocess.run([str(DYNAMICS), "init-db"], env=env, cwd=ROOT, check=True)
    subprocess.run([str(DYNAMICS), "seed-demo", "--clients", str(clients), "--days", str(days),
                    "--reset"], env=env, cwd=ROOT, check=True)
    from sqlalchemy import select

    from app import create_app
    from extensions import db
    from store.models import User
    from store.users import set_password

    dash_app = create_app({"DATABASE_URL": env["DATABASE_URL"],
                           "INSTANCE_PATH": env["INSTANCE_PATH"], "SECRET_KEY": "x"})
    with dash_app.server.app_context(), db.session() as session:
        users = session.execute(select(User.login, User.role).order_by(User.id)).all()
        by_role: dict[str, list[str]] = {}
        for login, role in users:
            by_role.setdefault(role, []).append(login)
        # Mostly resellers (small scopes), some managers and admins (the whole database).
        chosen = by_role.get("reseller", [])[:6] + by_role.get("manager", [])[:2] + \
            by_role.get("admin", [])[:2]
        for login in chosen:
            set_password(session, login, PASSWORD)
    dash_app.server.extensions["dynamics.engine"].dispose()
    return chosen


class Web:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(["bash", "-c", f"exec {_procfile('web')}"], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit("gunicorn did not answer /healthz in time")

    def __exit__(self, *_exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- the users


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, first: bool, error: str | None) -> None:
        with self.lock:
            if error:
                self.errors.append(error)
            else:
                self.latencies.append(seconds)
                if not first:
                    self.warm.append(seconds)


def monthly_form(today: date) -> dict[str, Any]:
    end = date(today.year, today.month, 1)
    start = date(end.year - 1, end.month, 1)
    return {"interval-start": f"{start.isoformat()} 00:00",
            "interval-end": f"{end.isoformat()} 00:00",
            "interval-preset": None, "group-by": ["month"], "output-type": "web", "send-to": ""}


def user_loop(base: str, login: str, stop_at: float, think: float, results: Results,
              dependencies: list[dict[str, Any]], form: dict[str, Any]) -> None:
    session = requests.Session()
    try:
        response = session.post(f"{base}/login", data={"login": login, "password": PASSWORD},
                                allow_redirects=False, timeout=60)
        if response.status_code != 302:
            results.add(0, True, f"login {login}: {response.status_code}")
            return
        request = QueryRequest.build(dependencies, render_page(session, base, dependencies), form)
    except requests.RequestException as error:
        results.add(0, True, f"setup {login}: {error}")
        return
    first = True
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        error = None
        try:
            response = session.post(f"{base}/_dash-update-component", json=request.body,
                                    timeout=60)
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            else:
                answer = response.json()["response"]
                if "report-store" not in answer:
                    error = f"no report: {json.dumps(answer.get('query-error'))[:300]}"
        except (requests.RequestException, ValueError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        results.add(time.perf_counter() - started, first, error)
        first = False
        if think:
            time.sleep(think)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: none"
    return (f"{label}: {len(values)} reports, p50 {statistics.median(values) * 1000:.0f} ms, "
            f"p95 {_percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a user waits between two reports (default 0: back to back)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--database-url", help="a database to (re)seed instead of a temp SQLite")
    parser.add_argument("--redis-url")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="dynamics-load-"))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_URL")}
    env.update(
        PATH=f"{DYNAMICS.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        DATABASE_URL=options.database_url or f"sqlite:///{folder / 'demo.sqlite'}",
        INSTANCE_PATH=str(folder / "instance"),
        SECRET_KEY=secrets.token_hex(16),
        DYNAMICS_ENV="production",
        PORT=str(free_port()),
        WEB_CONCURRENCY=str(options.workers),
        GUNICORN_THREADS=str(options.threads),
        GUNICORN_ACCESS_LOG="/dev/null",
        LOG_LEVEL="WARNING",
    )
    if options.redis_url:
        env["REDIS_URL"] = options.redis_url
    if options.database_url and options.database_url.startswith(("postgres://", "postgresql")):
        _ensure_postgresql_database(options.database_url)
    started = time.perf_counter()
    logins = prepare(env, options.clients, options.days)
    print(f"seeded {options.clients:,} clients × {options.days} days "
          f"({env['DATABASE_URL'].split('?')[0]}) in {time.perf_counter() - started:.0f} s; "
          f"logins: {', '.join(logins)}", flush=True)

    with Web(env, folder / "gunicorn.log") as web:
        # Anonymous requests get 401: log in once to read them, as the page does.
        probe = requests.Session()
        probe.post(f"{web.url}/login", data={"login": logins[0], "password": PASSWORD},
                   timeout=60)
        dependencies = probe.get(f"{web.url}/_dash-dependencies", timeout=60).json()
        form = monthly_form(datetime.now(UTC).date())
        results = Results()
        stop_at = time.monotonic() + options.duration
        threads = [
            threading.Thread(target=user_loop, args=(web.url, logins[i % len(logins)], stop_at,
                                                     options.think, results, dependencies, form))
            for i in range(options.users)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began

    print(f"{options.users} users, {options.workers} workers × {options.threads} threads, "
          f"{elapsed:.0f} s, think {options.think:g} s, monthly report "
          f"{form['interval-start'][:10]} to {form['interval-end'][:10]}")
    print(f"reports: {len(results.latencies)}, errors: {len(results.errors)}, "
          f"throughput {len(results.latencies) / elapsed:.1f} reports/s")
    print(_summary("all", results.latencies))
    print(_summary("warm (first report of each user excluded)", results.warm))
    for error in results.errors[:10]:
        print("  error:", error)
    ok = not results.errors and results.latencies and _percentile(results.latencies, 0.95) <= 1.0
    print(f"target (no errors, p95 ≤ 1 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
