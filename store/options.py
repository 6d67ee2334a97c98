"""The choices of the query form's option lists, each limited to what a user may see (SPEC §2).

A reseller user must never learn of other companies, of their users, or of tags used only by
their clients, so every list is computed from the user's scope on the server. ``None`` as the
user means the whole database (the CLI's default).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from metrics.query import CLIENT_TYPES
from store.models import Client, ClientTag, Company, CurrencyRate, Package, User
from store.scope import scope_company_ids
from store.users import AccountInfo

CLIENT_TYPE_LABELS: dict[str, str] = {
    "client": "Client",
    "reseller": "Reseller",
    "calling_card": "Calling Card",
    "call_shop": "Call Shop",
}
assert set(CLIENT_TYPE_LABELS) == set(CLIENT_TYPES)


@dataclass(frozen=True)
class Option:
    """One choice of a list: the value the query carries and the label a person reads."""

    value: str | int
    label: str


def _scope(conn: Connection, user: AccountInfo | None) -> set[int] | None:
    return scope_company_ids(conn, None if user is None else user.company_id)


def client_type_options() -> list[Option]:
    return [Option(value, label) for value, label in CLIENT_TYPE_LABELS.items()]


def company_options(engine: Engine, user: AccountInfo | None) -> list[Option]:
    """The companies in the user's scope, by name."""
    with engine.connect() as conn:
        scope = _scope(conn, user)
        query = select(Company.id, Company.name).order_by(Company.name, Company.id)
        if scope is not None:
            query = query.where(Company.id.in_(sorted(scope)))
        return [Option(int(row.id), row.name) for row in conn.execute(query)]


def owner_options(engine: Engine, user: AccountInfo | None) -> list[Option]:
    """The users of the companies in the user's scope (possible client owners), by login."""
    with engine.connect() as conn:
        scope = _scope(conn, user)
        query = select(User.id, User.login).order_by(User.login, User.id)
        if scope is not None:
            query = query.where(User.company_id.in_(sorted(scope)))
        return [Option(int(row.id), row.login) for row in conn.execute(query)]


def tag_options(engine: Engine, user: AccountInfo | None) -> list[Option]:
    """The tags carried by at least one client in the user's scope, alphabetically."""
    with engine.connect() as conn:
        scope = _scope(conn, user)
        query = select(ClientTag.tag).distinct().order_by(ClientTag.tag)
        if scope is not None:
            query = query.join(Client, Client.id == ClientTag.client_id).where(
                Client.company_id.in_(sorted(scope))
            )
        return [Option(row.tag, row.tag) for row in conn.execute(query)]


def package_options(engine: Engine, user: AccountInfo | None) -> list[Option]:
    """Every package, by name: the package catalogue is the operator's, shared by all companies."""
    del user  # packages carry no company; the argument keeps every list's signature alike
    with engine.connect() as conn:
        query = select(Package.id, Package.name).order_by(Package.name, Package.id)
        return [Option(int(row.id), row.name) for row in conn.execute(query)]


def currency_options(engine: Engine, base_currency: str) -> list[Option]:
    """The base currency first, then every currency that has a rate, alphabetically."""
    with engine.connect() as conn:
        rated = conn.execute(select(CurrencyRate.currency).distinct()).scalars()
        others = sorted({str(code).upper() for code in rated} - {base_currency.upper()})
    return [Option(code, code) for code in (base_currency.upper(), *others)]


FILTER_KINDS = ("type", "tag", "company", "owner", "package")


def filter_options(engine: Engine, user: AccountInfo | None, kind: str) -> list[Option]:
    """The choices of one filter of the form, named by its SPEC §5 parameter (``company``, …)."""
    if kind == "type":
        return client_type_options()
    if kind == "tag":
        return tag_options(engine, user)
    if kind == "company":
        return company_options(engine, user)
    if kind == "owner":
        return owner_options(engine, user)
    if kind == "package":
        return package_options(engine, user)
    raise ValueError(f"unknown filter {kind!r}")
