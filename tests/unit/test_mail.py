"""E-mail: recipients, the message, and the outbox delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from app import create_app
from exports.delivery import (
    deliver_due,
    deliver_request,
    parse_smtp_url,
    start_sender_thread,
    transport_note,
)
from exports.files import file_bytes
from exports.mail import RecipientError, build_message, parse_recipients, report_message
from extensions import db
from metrics.columns import report_columns
from metrics.query import ReportQuery
from metrics.report import Report
from store.outbox import (
    OUTBOX,
    STALE_ERROR,
    claim_due,
    enqueue,
    mark_sent,
    new_request_id,
    status_for,
)
from store.schema import init_db

MAIL_FROM = "Customer Dynamics <reports@example.com>"
SHARE_URL = "http://127.0.0.1:8050/view?id=Zm9vYmFyYmF6cXV4"
T0 = dt.datetime(2030, 1, 1, 12, 0, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """An SMTP handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes, bool]] = []
        self.refuse: set[str] = set()
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    bool(session.ssl),
                )
            )
        return "250 Message accepted"

    def to(self, recipient: str) -> list[bytes]:
        return [content for _f, rcpts, content, _tls in self.received if rcpts == [recipient]]


class SmtpServer:
    """A real SMTP server on a fixed free port, which a test can start late and stop early."""

    def __init__(self, **smtp_options: object) -> None:
        self.port = _free_port()
        self.handler = Recorder()
        self.options = smtp_options
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="mail.test",
            **self.options,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    server = SmtpServer()  # nothing listens on its port until the test starts it
    yield server
    server.stop()


@pytest.fixture
def make_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Callable[..., object]:
    """Apps on one database (SQLite file or PostgreSQL schema): ``make()`` twice is a restart."""
    monkeypatch.delenv("SMTP_URL", raising=False)

    def make(**config: object) -> object:
        dash_app = create_app(
            {
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "DATABASE_URL": database_url,
                "SECRET_KEY": "tests-only-secret",
                "TESTING": True,
                "MAIL_FROM": MAIL_FROM,
                "MAIL_RETRY_BASE_SECONDS": 1,
                **config,
            }
        )
        with dash_app.server.app_context():
            init_db(db.engine)
        return dash_app

    return make


def _report() -> Report:
    columns = report_columns(False)
    row = {name: 0 for name in columns}
    row.update({"Period": "2025-01", "Clients - All: Qty": 3, "Clients - All: Balance": -12.5})
    frame = pd.DataFrame([row], columns=columns).astype({"Clients - All: Balance": "float64"})
    query = ReportQuery(
        start=dt.datetime(2025, 1, 1), end=dt.datetime(2025, 2, 1), time_grain="month"
    )
    return Report(frame, query, "USD", None, "admin alice", dt.datetime(2025, 2, 1, 9, 0))


@pytest.fixture(scope="module")
def attachment() -> tuple[bytes, str, str]:
    return file_bytes(_report(), "xlsx")


def _message(attachment: tuple[bytes, str, str]) -> EmailMessage:
    content, mimetype, filename = attachment
    return build_message(
        mail_from=MAIL_FROM,
        subject="Customer Dynamics report 2025-01-01 to 2025-02-01",
        title={"Interval": "2025-01-01 00:00 to 2025-02-01 00:00 (UTC), end excluded"},
        content=content,
        mimetype=mimetype,
        filename=filename,
        share_url=SHARE_URL,
    )


def _queue(dash_app: object, message: EmailMessage, recipients: list[str], **kw: object) -> str:
    request_id = new_request_id()
    with dash_app.server.app_context(), db.session() as session:
        enqueue(session, message, recipients, request_id=request_id, **kw)
    return request_id


def _statuses(dash_app: object, request_id: str) -> list:
    return status_for(dash_app.server.extensions["dynamics.engine"], request_id)


def _attachment_of(raw: bytes) -> tuple[str, str, bytes]:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    (part,) = list(parsed.iter_attachments())
    return part.get_filename(), part.get_content_type(), part.get_payload(decode=True)


# --------------------------------------------------------------------------- recipients


def test_mail001_parse_recipients_accepts_lists_and_dedupes() -> None:
    assert parse_recipients(
        "a@example.com, b@example.org;\nA@example.com  c.d+x@mail.example.co.uk"
    ) == [
        "a@example.com",
        "b@example.org",
        "c.d+x@mail.example.co.uk",
    ]
    assert parse_recipients(["Jane Doe <jane@example.com>", "", "bob@example.com"]) == [
        "jane@example.com",
        "bob@example.com",
    ]
    assert parse_recipients("") == [] and parse_recipients(None) == []


def test_mail002_parse_recipients_names_each_bad_address() -> None:
    with pytest.raises(RecipientError) as caught:
        parse_recipients("ok@example.com, bob@, @example.com, no-at-sign, x@localhost")
    message = str(caught.value)
    for bad in ("'bob@'", "'@example.com'", "'no-at-sign'", "'x@localhost'"):
        assert bad in message
    assert "ok@example.com" not in message
    assert caught.value.field == "send_to"
    # A line break separates addresses, so no header can be smuggled in after one.
    with pytest.raises(RecipientError) as caught:
        parse_recipients("evil@example.com\r\nBcc: victim@example.com>")
    assert str(caught.value) == "'Bcc:', 'victim@example.com>' are not e-mail addresses"


def test_mail003_parse_recipients_at_most_20() -> None:
    assert len(parse_recipients([f"u{i}@example.com" for i in range(20)])) == 20
    with pytest.raises(RecipientError, match="at most 20 recipients, not 21"):
        parse_recipients(",".join(f"u{i}@example.com" for i in range(21)))


# --------------------------------------------------------------------------- the message


def test_mail010_report_message_carries_parameters_link_and_file() -> None:
    message = report_message(
        _report(), "csv", mail_from=MAIL_FROM, share_url=SHARE_URL, to="a@example.com"
    )
    assert message["From"] == MAIL_FROM
    assert message["To"] == "a@example.com"
    assert message["Subject"] == "Customer Dynamics report 2025-01-01 to 2025-02-01"
    body = message.get_body(("plain",)).get_content()
    assert (
        "Interval:" in body and "2025-01-01 00:00 to 2025-02-01 00:00 (UTC), end excluded" in body
    )
    assert "Currency:" in body and "USD" in body
    assert "Generated by:" in body and "admin alice" in body
    assert SHARE_URL in body
    (part,) = list(message.iter_attachments())
    assert part.get_filename() == "customer-dynamics_2025-01-01_2025-02-01.csv"
    assert part.get_content_type() == "text/csv"
    data = part.get_payload(decode=True)
    assert data.startswith(b"\xef\xbb\xbfPeriod,Clients - Active: Qty,")
    assert b"\n2025-01,0,0.00,0.00,0.00,0,0.00,0.00,0.00,3,0.00,0.00,-12.50," in data


# --------------------------------------------------------------------------- SMTP delivery


def test_mail020_delivered_once_with_attachment_intact(make_app, smtp, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp.url)
    request_id = _queue(dash_app, _message(attachment), ["a@example.com", "b@example.com"])
    results = deliver_due(dash_app)
    assert sorted((r.recipient, r.status) for r in results) == [
        ("a@example.com", "sent"),
        ("b@example.com", "sent"),
    ]
    assert deliver_due(dash_app) == []  # nothing is due twice
    assert len(smtp.handler.received) == 2
    for recipient in ("a@example.com", "b@example.com"):
        (raw,) = smtp.handler.to(recipient)
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert parsed["To"] == recipient
        assert parsed["From"] == MAIL_FROM
        assert SHARE_URL in parsed.get_body(("plain",)).get_content()
        assert _attachment_of(raw) == (attachment[2], attachment[1], attachment[0])
    assert smtp.handler.received[0][0] == "reports@example.com"  # the envelope sender
    assert [
        (s.recipient, s.status, s.attempts, s.describe()) for s in _statuses(dash_app, request_id)
    ] == [
        ("a@example.com", "sent", 1, "sent"),
        ("b@example.com", "sent", 1, "sent"),
    ]


def test_mail021_server_down_then_up_arrives_after_retry(make_app, smtp_down, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp_down.url)
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"], now=T0)
    (first,) = deliver_due(dash_app, now=T0)
    assert first.status == "queued" and "cannot reach the mail server" in first.error
    (state,) = _statuses(dash_app, request_id)
    assert (state.status, state.attempts) == ("queued", 1)
    assert state.next_attempt_at == T0 + dt.timedelta(seconds=1)
    assert "cannot reach the mail server" in state.last_error
    assert state.describe().startswith("queued (will retry; last attempt: cannot reach")

    smtp_down.start()
    assert deliver_due(dash_app, now=T0 + dt.timedelta(seconds=0.5)) == []  # backoff respected
    assert smtp_down.handler.received == []
    (second,) = deliver_due(dash_app, now=T0 + dt.timedelta(seconds=1))
    assert second.status == "sent"
    assert len(smtp_down.handler.to("a@example.com")) == 1
    (state,) = _statuses(dash_app, request_id)
    assert (state.status, state.attempts) == ("sent", 2)


def test_mail022_three_failures_then_failed_with_reason(make_app, smtp_down, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp_down.url)
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"], now=T0)
    assert [r.status for r in deliver_due(dash_app, now=T0)] == ["queued"]
    (state,) = _statuses(dash_app, request_id)
    assert state.next_attempt_at == T0 + dt.timedelta(seconds=1)
    later = T0 + dt.timedelta(seconds=1)
    assert [r.status for r in deliver_due(dash_app, now=later)] == ["queued"]
    (state,) = _statuses(dash_app, request_id)
    assert state.next_attempt_at == later + dt.timedelta(seconds=4)  # 1 s, then 4 s
    assert [r.status for r in deliver_due(dash_app, now=later + dt.timedelta(seconds=4))] == [
        "failed"
    ]
    (state,) = _statuses(dash_app, request_id)
    assert (state.status, state.attempts) == ("failed", 3)
    assert (
        "cannot reach the mail server" in state.last_error
        and "after 3 attempts" in state.last_error
    )
    assert state.describe().startswith("failed: cannot reach the mail server")
    assert deliver_due(dash_app, now=T0 + dt.timedelta(days=1)) == []


def test_mail023_permanent_refusal_fails_at_once(make_app, smtp, attachment) -> None:
    smtp.handler.refuse.add("nobody@example.com")
    dash_app = make_app(SMTP_URL=smtp.url)
    request_id = _queue(dash_app, _message(attachment), ["nobody@example.com", "a@example.com"])
    deliver_due(dash_app)
    states = {s.recipient: s for s in _statuses(dash_app, request_id)}
    assert states["nobody@example.com"].status == "failed"
    assert states["nobody@example.com"].attempts == 1
    assert "550" in states["nobody@example.com"].last_error
    assert "no such mailbox" in states["nobody@example.com"].last_error
    assert states["a@example.com"].status == "sent"


def test_mail024_two_senders_at_once_send_each_message_once(make_app, smtp, attachment) -> None:
    first = make_app(SMTP_URL=smtp.url)
    second = make_app(SMTP_URL=smtp.url)  # a second process: its own engine and pool
    smtp.handler.delay = 0.02  # slow enough that the two senders overlap
    recipients = [f"user{i}@example.com" for i in range(24)]
    request_id = _queue(first, _message(attachment), recipients)
    start = threading.Barrier(2)
    outcomes: list[list] = []
    errors: list[BaseException] = []

    def sender(dash_app: object) -> None:
        try:
            start.wait()
            outcomes.append(deliver_due(dash_app))
        except Exception as exc:  # noqa: BLE001 - the main thread asserts there were none
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(a,)) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    handled = [d.id for run in outcomes for d in run]
    assert len(handled) == len(set(handled)) == 24
    assert all(run for run in outcomes)  # both senders took part
    for recipient in recipients:
        assert len(smtp.handler.to(recipient)) == 1, recipient
    assert len(smtp.handler.received) == 24
    assert {s.status for s in _statuses(first, request_id)} == {"sent"}


def test_mail0241_concurrent_claims_never_overlap(make_app) -> None:
    dash_app = make_app()
    engine = dash_app.server.extensions["dynamics.engine"]
    message = EmailMessage()
    message["From"], message["Subject"] = MAIL_FROM, "claims"
    message.set_content("x")
    _queue(dash_app, message, [f"u{i}@example.com" for i in range(60)])
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer() -> None:
        start.wait()
        while (claim := claim_due(engine)) is not None:
            with lock:
                claimed.append(claim.id)
            assert mark_sent(engine, claim)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(claimed) == len(set(claimed)) == 60


def test_mail025_restart_sends_queued_message_once(make_app, smtp, attachment) -> None:
    before = make_app(SMTP_URL=smtp.url)
    request_id = _queue(before, _message(attachment), ["a@example.com"])
    before.server.extensions["dynamics.engine"].dispose()
    del before
    after = make_app(SMTP_URL=smtp.url)  # the app restarted on the same database
    assert [d.status for d in deliver_due(after)] == ["sent"]
    assert deliver_due(after) == []
    assert deliver_due(make_app(SMTP_URL=smtp.url)) == []
    assert len(smtp.handler.to("a@example.com")) == 1
    (state,) = _statuses(after, request_id)
    assert state.status == "sent"


def test_mail026_crashed_sender_is_retried_after_its_lease(make_app, smtp, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp.url, MAIL_LEASE_SECONDS=300)
    engine = dash_app.server.extensions["dynamics.engine"]
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"], now=T0)
    claim = claim_due(engine, T0)  # a sender took it, then died before marking it
    assert claim is not None and claim.attempts == 1
    assert deliver_due(dash_app, now=T0 + dt.timedelta(seconds=299)) == []  # maybe still sending
    assert smtp.handler.received == []
    (delivery,) = deliver_due(dash_app, now=T0 + dt.timedelta(seconds=301))
    assert delivery.status == "sent"
    assert len(smtp.handler.to("a@example.com")) == 1
    (state,) = _statuses(dash_app, request_id)
    assert (state.status, state.attempts) == ("sent", 2)


def test_mail027_stale_last_attempt_is_failed_not_resent(make_app, smtp, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp.url, MAIL_MAX_ATTEMPTS=1, MAIL_LEASE_SECONDS=60)
    engine = dash_app.server.extensions["dynamics.engine"]
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"], now=T0)
    assert claim_due(engine, T0, max_attempts=1) is not None
    assert deliver_due(dash_app, now=T0 + dt.timedelta(seconds=61)) == []
    (state,) = _statuses(dash_app, request_id)
    assert (state.status, state.last_error) == ("failed", STALE_ERROR)
    assert smtp.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_mail028_smtp_login_with_encoded_password(make_app, attachment) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:w/rd")

    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    server.start()
    try:
        dash_app = make_app(SMTP_URL=f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}")
        _queue(dash_app, _message(attachment), ["a@example.com"])
        assert [d.status for d in deliver_due(dash_app)] == ["sent"]
        assert seen == [(b"mailer", b"p@ss:w/rd")]
        assert len(server.handler.to("a@example.com")) == 1
    finally:
        server.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_mail029_starttls(make_app, attachment, tmp_path, monkeypatch) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    server = SmtpServer(tls_context=context, require_starttls=True)
    server.start()
    # The client verifies the server against the default trust store, which this extends.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    try:
        dash_app = make_app(SMTP_URL=f"smtp://127.0.0.1:{server.port}?starttls=1")
        _queue(dash_app, _message(attachment), ["a@example.com"])
        assert [d.status for d in deliver_due(dash_app)] == ["sent"]
        ((_from, _rcpts, _raw, over_tls),) = server.handler.received
        assert over_tls
        plain = make_app(SMTP_URL=f"smtp://127.0.0.1:{server.port}")  # without ?starttls=1
        _queue(plain, _message(attachment), ["b@example.com"])
        (refused,) = deliver_due(plain)
        assert refused.status == "failed" and "530" in refused.error
    finally:
        server.stop()


# --------------------------------------------------------------------------- without SMTP


def test_mail030_without_smtp_url_writes_eml_files(make_app, tmp_path, attachment) -> None:
    dash_app = make_app()
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"])
    (delivery,) = deliver_due(dash_app)
    assert (delivery.status, delivery.via) == ("sent", "file")
    path = tmp_path / "instance" / "outbox" / f"{delivery.id}.eml"
    raw = path.read_bytes()
    engine = dash_app.server.extensions["dynamics.engine"]
    with engine.connect() as conn:
        stored = conn.execute(
            select(OUTBOX.c.message).where(OUTBOX.c.id == delivery.id)
        ).scalar_one()
    assert raw == stored
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["To"] == "a@example.com"
    assert _attachment_of(raw) == (attachment[2], attachment[1], attachment[0])
    (state,) = _statuses(dash_app, request_id)
    assert state.describe() == "written to the outbox folder"
    assert "instance/outbox/" in transport_note(dash_app.server.config)
    assert transport_note({"SMTP_URL": "smtp://mail.example.com"}) is None
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# --------------------------------------------------------------------------- senders


def test_mail040_send_mail_once_command(make_app, smtp, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp.url)
    _queue(dash_app, _message(attachment), ["a@example.com"])
    result = dash_app.server.test_cli_runner().invoke(args=["send-mail", "--once"])
    assert result.exit_code == 0, result.output
    assert "a@example.com: sent" in result.output
    assert len(smtp.handler.to("a@example.com")) == 1


def test_mail041_background_thread_delivers(make_app, smtp, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp.url)
    thread, stop = start_sender_thread(dash_app, poll_seconds=0.05)
    try:
        request_id = _queue(dash_app, _message(attachment), ["a@example.com"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _statuses(dash_app, request_id)[0].status != "sent":
            time.sleep(0.05)
        assert _statuses(dash_app, request_id)[0].status == "sent"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(smtp.handler.to("a@example.com")) == 1


def test_mail042_deliver_request_waits_out_a_retry(make_app, smtp_down, attachment) -> None:
    dash_app = make_app(SMTP_URL=smtp_down.url, MAIL_RETRY_BASE_SECONDS=0.2)
    request_id = _queue(dash_app, _message(attachment), ["a@example.com"])
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        if not naps:
            smtp_down.start()  # the server comes back while the command waits
        naps.append(seconds)
        time.sleep(seconds)

    states = deliver_request(dash_app, request_id, sleep=sleep, timeout_seconds=30)
    assert [(s.recipient, s.status, s.attempts) for s in states] == [("a@example.com", "sent", 2)]
    assert len(smtp_down.handler.to("a@example.com")) == 1
    assert naps and max(naps) <= 0.25


def test_mail043_parse_smtp_url() -> None:
    server = parse_smtp_url("smtp://user%40corp:s%3Acret@mail.example.com:587?starttls=1")
    assert (server.host, server.port, server.username, server.password, server.starttls) == (
        "mail.example.com",
        587,
        "user@corp",
        "s:cret",
        True,
    )
    plain = parse_smtp_url("smtp://localhost")
    assert (plain.port, plain.username, plain.starttls, plain.implicit_tls) == (
        25,
        None,
        False,
        False,
    )
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url("http://mail.example.com")
