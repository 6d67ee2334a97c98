"""SQLAlchemy 2.x models of the SPEC §2 source tables and the app's own tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "manager", "reseller")
CLIENT_TYPES = ("client", "reseller", "calling_card", "call_shop")
KINDS = ("refill", "payg", "package_activation", "package_renewal", "adjustment")
PACKAGE_KINDS = ("package_activation", "package_renewal")
NON_NEGATIVE_KINDS = ("refill", "payg", "package_activation", "package_renewal")

Money = Numeric(18, 4)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_users_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), nullable=False, index=True)
    email: Mapped[str | None] = mapped_column(Text)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint(_in("client_type", CLIENT_TYPES), name="ck_clients_type"),
        CheckConstraint("length(currency) = 3", name="ck_clients_currency"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    client_type: Mapped[str] = mapped_column(Text, nullable=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), nullable=False, index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class ClientTag(Base):
    __tablename__ = "client_tags"
    __table_args__ = (Index("ix_client_tags_tag", "tag"),)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(Text, primary_key=True)


class Package(Base):
    __tablename__ = "packages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="ck_transactions_kind"),
        CheckConstraint(
            f"amount >= 0 OR NOT ({_in('kind', NON_NEGATIVE_KINDS)})",
            name="ck_transactions_amount_sign",
        ),
        CheckConstraint(
            f"package_id IS NOT NULL OR NOT ({_in('kind', PACKAGE_KINDS)})",
            name="ck_transactions_package_required",
        ),
        Index("ix_transactions_client_ts", "client_id", "ts"),
        Index("ix_transactions_ts", "ts"),
    )
    # BIGINT in PostgreSQL, INTEGER (the rowid alias) in SQLite.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    ts: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))


class CurrencyRate(Base):
    __tablename__ = "currency_rates"
    __table_args__ = (CheckConstraint("rate > 0", name="ck_currency_rates_positive"),)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8), nullable=False)


class LedgerVersion(Base):
    """One row whose counter database triggers bump on every change of a source table.

    The loaded-ledger cache keys on it, so a change made by any writer (this app, an
    import, the billing system writing the tables directly) invalidates the cache.
    """

    __tablename__ = "ledger_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


SOURCE_TABLES = (
    "companies",
    "users",
    "clients",
    "client_tags",
    "packages",
    "transactions",
    "currency_rates",
)

# The app's own tables live beside their code; importing them registers them on Base.
from store import outbox, snapshots, templates  # noqa: E402,F401
