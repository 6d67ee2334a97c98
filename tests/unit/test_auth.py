"""Login, logout and the login requirement, through the Flask test client: ``pytest -k aut``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import auth
from extensions import db
from tests.dashboard_seed import ADMIN, PASSWORD, R1A, load_scoped_example


@pytest.fixture
def client(app):
    with app.server.app_context():
        load_scoped_example(db.engine)
    return app.server.test_client()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app) -> FakeClock:
    fake = FakeClock()
    app.server.extensions["dynamics.login_throttle"].clock = fake
    return fake


def log_in(client, login=ADMIN, password=PASSWORD, **fields):
    return client.post("/login", data={"login": login, "password": password, **fields})


def test_aut001_anonymous_pages_redirect_to_the_login_with_next(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2F"

    response = client.get("/view?id=abc&x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fview%3Fid%3Dabc%26x%3D1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_dash-update-component"),
        ("GET", "/_dash-layout"),
        ("GET", "/_dash-dependencies"),
        ("GET", "/_dash-component-suites/dash/dcc/dash_core_components.js"),
    ],
)
def test_aut002_anonymous_dash_requests_get_401(client, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.get_json() == {"error": "Authentication required."}


def test_aut003_the_login_page_health_and_static_assets_need_no_login(client):
    page = client.get("/login?next=/x")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ('name="login"', 'name="password"', 'name="remember"', 'name="next"'):
        assert name in html
    assert 'value="/x"' in html
    assert 'href="/assets/00-bootstrap.min.css"' in html
    assert "Please log in to see this page." in html
    assert client.get("/assets/00-bootstrap.min.css").status_code == 200
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize(("login", "password"), [(ADMIN, "wrong password"), ("nobody", PASSWORD),
                                                 (ADMIN, ""), ("", "")])
def test_aut004_a_wrong_login_or_password_gets_one_generic_message(client, login, password):
    response = log_in(client, login, password, next="/?group=month")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Wrong login or password." in html
    assert 'value="/?group=month"' in html  # kept for the next try
    assert client.get("/").status_code == 302  # still anonymous


def test_aut005_a_right_password_logs_in_and_goes_back_to_next(client):
    response = log_in(client, next="/?group=month&tz=UTC")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?group=month&tz=UTC"
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    # Logged in, the login page sends the user on.
    assert client.get("/login?next=/view").headers["Location"] == "/view"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
     "http:/evil.example", "evil.example", "/\tx", ""],
)
def test_aut006_next_is_never_an_open_redirect(client, target):
    response = log_in(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert auth.safe_next(target) == "/"


def test_aut007_logout_is_a_post_that_ends_the_session(client):
    log_in(client)
    asked = client.get("/logout")  # a link or an image cannot log anyone out: it only asks
    assert asked.status_code == 200
    assert '<form method="post" action="/logout"' in asked.get_data(as_text=True)
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?logged_out=1"
    assert "You have been logged out." in client.get("/login?logged_out=1").get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert client.post("/_dash-update-component", json={}).status_code == 401


def _cookie_headers(response) -> dict[str, str]:
    return {
        header.split("=", 1)[0]: header
        for header in response.headers.getlist("Set-Cookie")
    }


def test_aut008_remember_me_sets_a_lasting_httponly_lax_cookie(app, client):
    cookies = _cookie_headers(log_in(client, remember="1"))
    assert "remember_token" in cookies
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
    assert "Expires=" in cookies["remember_token"]

    # A new browser session holding only the remember cookie is logged in again.
    token = client.get_cookie("remember_token").value
    fresh = app.server.test_client()
    fresh.set_cookie("remember_token", token)
    assert fresh.get("/").status_code == 200

    other = app.server.test_client()
    assert "remember_token" not in _cookie_headers(log_in(other))


def test_aut009_repeated_failures_lock_the_login_for_growing_delays(client, clock):
    for _ in range(3):  # free failures
        assert "Wrong login or password." in log_in(client, password="bad").get_data(True)
    assert "Wrong login or password." in log_in(client, password="bad").get_data(True)  # 4th

    locked = log_in(client)  # even the right password waits
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "1"
    assert "Too many failed attempts. Try again in 1 second." in locked.get_data(True)

    clock.now += 1.5
    log_in(client, password="bad")  # the 5th failure locks for 2 seconds
    locked = log_in(client)
    assert locked.status_code == 429
    assert "Try again in 2 seconds." in locked.get_data(True)

    # Another login from the same address is not slowed down.
    assert log_in(client, login=R1A).status_code == 302
    client.post("/logout")

    clock.now += 2.5
    assert log_in(client).status_code == 302  # success clears the counter
    client.post("/logout")
    assert "Wrong login or password." in log_in(client, password="bad").get_data(True)


def test_aut010_the_throttle_caps_the_delay_and_forgets_idle_pairs():
    clock = FakeClock()
    throttle = auth.LoginThrottle(free_failures=1, max_lock_seconds=10, clock=clock)
    key = throttle.key(" Alice ", "10.0.0.1")
    assert key == ("alice", "10.0.0.1")
    for _ in range(20):
        throttle.failure(key)
    assert throttle.locked_for(key) == 10
    clock.now += 16 * 60
    throttle.failure(("bob", "10.0.0.2"))  # a later failure sweeps the idle entries
    assert throttle.locked_for(key) == 0
    assert key not in throttle._entries


def test_aut011_a_deleted_user_is_anonymous(app, client):
    log_in(client, login=R1A)
    assert client.get("/").status_code == 200
    with app.server.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE login = :login"), {"login": R1A})
    assert client.get("/").status_code == 302
