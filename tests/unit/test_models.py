"""The constraints of the data model (SPEC §2), enforced by the database itself: ``pytest -k mod``.

Every write path (the ORM, ``import-csv``, the billing system writing the tables directly) is
held to them, so they are tested with plain INSERTs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from extensions import db
from store.models import Client, ClientTag, Company, CurrencyRate, Package, Transaction, User

CLIENT = {"id": 1, "name": "A", "client_type": "client", "company_id": 1, "currency": "USD",
          "created_at": datetime(2025, 1, 1)}
PAYG = {"id": 1, "client_id": 1, "ts": datetime(2025, 1, 2), "kind": "payg",
        "amount": Decimal("1.5"), "package_id": None}


@pytest.fixture
def base(app):
    """One company, one client, one package."""
    with app.server.app_context(), db.engine.begin() as conn:
        conn.execute(insert(Company).values(id=1, name="Op"))
        conn.execute(insert(Client).values(**CLIENT))
        conn.execute(insert(Package).values(id=1, name="P1"))
    return app


def _insert(app, model, **values) -> None:
    with app.server.app_context(), db.engine.begin() as conn:
        conn.execute(insert(model).values(**values))


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "refund"},
        {"kind": "package_activation", "package_id": None},
        {"kind": "package_renewal", "package_id": None},
        {"kind": "payg", "amount": Decimal("-0.01")},
        {"kind": "refill", "amount": Decimal(-5)},
        {"kind": "package_renewal", "package_id": 1, "amount": Decimal(-1)},
        {"client_id": 99},
        {"kind": "package_renewal", "package_id": 9},
        {"amount": None},
        {"ts": None},
    ],
    ids=["kind", "activation-without-package", "renewal-without-package", "negative-payg",
         "negative-refill", "negative-renewal", "unknown-client", "unknown-package",
         "no-amount", "no-ts"],
)
def test_mod001_bad_transactions_are_refused(base, changes):
    with pytest.raises(IntegrityError):
        _insert(base, Transaction, **{**PAYG, **changes})


@pytest.mark.parametrize(
    "row",
    [
        {**PAYG, "kind": "adjustment", "amount": Decimal(-7)},
        {**PAYG, "amount": Decimal(0)},
        {**PAYG, "kind": "package_activation", "package_id": 1},
        {**PAYG, "kind": "refill", "package_id": None},
    ],
    ids=["negative-adjustment", "zero-payg", "activation-with-package", "refill"],
)
def test_mod002_good_transactions_are_accepted(base, row):
    _insert(base, Transaction, **row)
    with base.server.app_context(), db.session() as session:
        stored = session.get(Transaction, 1)
        assert (stored.kind, stored.amount, stored.package_id) == (
            row["kind"], row["amount"], row["package_id"])


@pytest.mark.parametrize(
    "changes",
    [{"client_type": "shop"}, {"currency": "EURO"}, {"company_id": 42}, {"name": None},
     {"created_at": None}, {"owner_user_id": 5}],
    ids=["type", "currency", "unknown-company", "no-name", "no-created-at", "unknown-owner"],
)
def test_mod003_bad_clients_are_refused(base, changes):
    with pytest.raises(IntegrityError):
        _insert(base, Client, **{**CLIENT, "id": 2, **changes})


@pytest.mark.parametrize("rate", [Decimal(0), Decimal("-1.5")])
def test_mod004_rates_must_be_positive(base, rate):
    with pytest.raises(IntegrityError):
        _insert(base, CurrencyRate, currency="EUR", valid_from=datetime(2025, 1, 1), rate=rate)
    _insert(base, CurrencyRate, currency="EUR", valid_from=datetime(2025, 1, 1),
            rate=Decimal("0.00000001"))


def test_mod005_primary_and_unique_keys(base):
    for model, values in [
        (CurrencyRate, {"currency": "EUR", "valid_from": datetime(2025, 1, 1), "rate": 1}),
        (ClientTag, {"client_id": 1, "tag": "vip"}),
        (Transaction, PAYG),
    ]:
        _insert(base, model, **values)
        with pytest.raises(IntegrityError):
            _insert(base, model, **values)
    with pytest.raises(IntegrityError):
        _insert(base, Company, id=2, name="Op")  # names are unique
    with pytest.raises(IntegrityError):
        _insert(base, Package, id=2, name="P1")
    with pytest.raises(IntegrityError):
        _insert(base, ClientTag, client_id=7, tag="vip")  # unknown client


def test_mod006_users_roles_logins_and_companies(base):
    user = {"id": 1, "login": "a", "password_hash": "!", "role": "admin", "company_id": 1}
    for changes in ({"role": "root"}, {"company_id": 3}, {"password_hash": None},
                    {"login": None}):
        with pytest.raises(IntegrityError):
            _insert(base, User, **{**user, **changes})
    _insert(base, User, **user)
    with pytest.raises(IntegrityError):
        _insert(base, User, **{**user, "id": 2})  # the login is taken


def test_mod007_the_report_indexes_exist(app):
    with app.server.app_context():
        indexes = {tuple(i["column_names"]) for i in inspect(db.engine).get_indexes("transactions")}
    assert {("client_id", "ts"), ("ts",)} <= indexes
