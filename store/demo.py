"""Demo data and the embedded instance's first start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text

from extensions import db
from store.models import Client, Company
from store.schema import init_db
from store.seed import SeedError, SeedOptions, seed_steps
from store.users import create_user

DEMO_CLIENTS = 2000
DEMO_DAYS = 730
LOGINS_FILE = "demo-logins.txt"


def demo_logins_path() -> Path:
    """Where the first start keeps the demo logins: ``instance/demo-logins.txt``."""
    return Path(current_app.instance_path).resolve() / LOGINS_FILE


def _demo_reseller_company() -> Company:
    """A reseller directly under the operator with clients and sub-companies (the busiest)."""
    with db.session() as session:
        children = (
            select(Company.parent_id, func.count().label("subs"))
            .where(Company.parent_id.is_not(None))
            .group_by(Company.parent_id)
            .subquery()
        )
        clients = (
            select(Client.company_id, func.count().label("clients"))
            .group_by(Client.company_id)
            .subquery()
        )
        root_id = session.scalar(select(Company.id).where(Company.parent_id.is_(None))
                                 .order_by(Company.id))
        return session.execute(
            select(Company)
            .join(children, children.c.parent_id == Company.id)
            .join(clients, clients.c.company_id == Company.id)
            .where(Company.parent_id == root_id)
            .order_by(clients.c.clients.desc(), Company.id)
        ).scalars().first()


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)
    path.chmod(0o600)  # also when the file existed with wider rights


def create_demo_logins() -> list[tuple[str, str, str, str]]:
    """The ``admin`` (operator) and ``reseller`` logins with fresh random passwords.

    Returns (login, password, role, company name) of each; the passwords exist nowhere else.
    """
    reseller_company = _demo_reseller_company()
    with db.session() as session:
        root = session.scalars(select(Company).where(Company.parent_id.is_(None))
                               .order_by(Company.id)).first()
        wanted = [("admin", "admin", root), ("reseller", "reseller", reseller_company or root)]
        created = []
        for login, role, company in wanted:
            password = secrets.token_urlsafe(12)
            create_user(session, login, password, role, company.id)
            created.append((login, password, role, company.name))
    return created


def prepare_embedded_instance() -> Iterator[str]:
    """Create the database; seed demo data and demo logins on first start. Yields console lines."""
    engine = db.engine
    init_db(engine)
    yield "database ready"
    logins_path = demo_logins_path()
    with engine.connect() as conn:
        has_clients = conn.execute(text("SELECT 1 FROM clients LIMIT 1")).first() is not None
    if has_clients:
        if logins_path.exists():
            yield f"demo logins: see {logins_path}"
        return
    yield f"first start: seeding demo data ({DEMO_CLIENTS} clients, {DEMO_DAYS} days)…"
    options = SeedOptions(clients=DEMO_CLIENTS, days=DEMO_DAYS,
                          base_currency=current_app.config.get("BASE_CURRENCY", "USD"))
    try:
        yield from seed_steps(engine, options)
    except SeedError as exc:  # some data but no clients: not a first start to seed over
        yield f"no demo data: {exc}"
        return
    logins = create_demo_logins()
    lines = [f"# Customer Dynamics demo logins, created {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
    for login, password, role, company in logins:
        lines.append(f"{login}\t{password}\t({role}, {company})")
    _write_private(logins_path, "\n".join(lines) + "\n")
    yield "demo logins (shown once; also kept in " + str(logins_path) + "):"
    for login, password, role, company in logins:
        yield f"  {login} / {password}  ({role}, {company})"
