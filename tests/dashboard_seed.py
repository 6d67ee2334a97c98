"""The data of the dashboard tests: the worked example (tests/data/micro) plus a second reseller.

Companies: Op (1, root) → R1 (2) → R1a (3); Op → R2 (4). Clients: A (Op), B (R1a, tag
``gold``), C (R1), D (R2, tag ``platinum``, owned by ``r2user``). Logins (password
``PASSWORD``): ``opsadmin`` (admin, Op — sees everything), ``r1auser`` (reseller, R1a — sees
client B only), ``r2user`` (reseller, R2 — sees client D only).
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from store.models import (
    Client,
    ClientTag,
    Company,
    CurrencyRate,
    Package,
    Transaction,
    User,
)
from store.users import UNUSABLE_PASSWORD, set_password

MICRO = Path(__file__).resolve().parent / "data" / "micro"
PASSWORD = "correct horse battery"
ADMIN, R1A, R2 = "opsadmin", "r1auser", "r2user"


def _rows(name: str) -> list[dict[str, str]]:
    with open(MICRO / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _int(text: str) -> int | None:
    return int(text) if text.strip() else None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def load_micro(engine: Engine) -> None:
    """Insert the worked example's rows (users without a usable password)."""
    with engine.begin() as conn:
        for row in _rows("companies"):
            conn.execute(insert(Company).values(
                id=int(row["id"]), name=row["name"], parent_id=_int(row["parent_id"])))
        for row in _rows("users"):
            conn.execute(insert(User).values(
                id=int(row["id"]), login=row["login"], role=row["role"],
                company_id=int(row["company_id"]), email=row["email"] or None,
                password_hash=UNUSABLE_PASSWORD))
        for row in _rows("clients"):
            conn.execute(insert(Client).values(
                id=int(row["id"]), name=row["name"], client_type=row["client_type"],
                company_id=int(row["company_id"]), owner_user_id=_int(row["owner_user_id"]),
                currency=row["currency"], created_at=_when(row["created_at"])))
        for row in _rows("client_tags"):
            conn.execute(insert(ClientTag).values(client_id=int(row["client_id"]), tag=row["tag"]))
        for row in _rows("packages"):
            conn.execute(insert(Package).values(id=int(row["id"]), name=row["name"]))
        for row in _rows("transactions"):
            conn.execute(insert(Transaction).values(
                id=int(row["id"]), client_id=int(row["client_id"]), ts=_when(row["ts"]),
                kind=row["kind"], amount=Decimal(row["amount"]),
                package_id=_int(row["package_id"])))
        for row in _rows("currency_rates"):
            conn.execute(insert(CurrencyRate).values(
                currency=row["currency"], valid_from=_when(row["valid_from"]),
                rate=Decimal(row["rate"])))


def load_scoped_example(engine: Engine) -> None:
    """The worked example, a second reseller company with its own client, tags and logins."""
    load_micro(engine)
    with engine.begin() as conn:
        conn.execute(insert(Company).values(id=4, name="R2", parent_id=1))
        conn.execute(insert(User).values(id=2, login=R1A, role="reseller", company_id=3,
                                         email="r1a@example.com", password_hash="!"))
        conn.execute(insert(User).values(id=3, login=R2, role="reseller", company_id=4,
                                         email="r2@example.com", password_hash="!"))
        conn.execute(insert(Client).values(
            id=4, name="D", client_type="reseller", company_id=4, owner_user_id=3,
            currency="USD", created_at=datetime(2025, 1, 10)))
        conn.execute(insert(ClientTag).values(client_id=2, tag="gold"))
        conn.execute(insert(ClientTag).values(client_id=4, tag="platinum"))
        conn.execute(insert(Transaction).values(
            id=100, client_id=4, ts=datetime(2025, 1, 12, 9, 30), kind="refill",
            amount=Decimal("1234567.891"), package_id=None))
        conn.execute(insert(Transaction).values(
            id=101, client_id=4, ts=datetime(2025, 2, 3), kind="payg",
            amount=Decimal(2500000), package_id=None))
        conn.execute(insert(Transaction).values(
            id=102, client_id=4, ts=datetime(2025, 2, 4), kind="package_activation",
            amount=Decimal(3), package_id=2))
    with Session(engine) as session, session.begin():
        for login in (ADMIN, R1A, R2):
            set_password(session, login, PASSWORD)
