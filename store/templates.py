"""Saved query templates: a named set of query parameters, private or shared with the company."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import ColumnElement

from extensions import db
from metrics.errors import ReportError
from store import snapshots  # the shared parameter vocabulary (clean_params)
from store.models import Base, User

if TYPE_CHECKING:  # store.users imports store.models, which imports this module
    from store.users import AccountInfo

VISIBILITIES = ("private", "company")
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 1000


class TemplateError(ReportError):
    """A template cannot be saved, found or changed as asked; the message is safe to show."""


class TemplateRecord(Base):
    __tablename__ = "query_templates"
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_query_templates_user_name"),
        CheckConstraint(
            "visibility IN ('private', 'company')", name="ck_query_templates_visibility"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    visibility: Mapped[str] = mapped_column(String(16), nullable=False, default="private")
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


@dataclass(frozen=True)
class Template:
    """A template as plain data. ``owner_login`` is for the list ("by alice")."""

    id: int
    user_id: int
    owner_login: str | None
    company_id: int
    name: str
    description: str
    visibility: str
    params: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime

    def owned_by(self, user: AccountInfo) -> bool:
        return self.user_id == user.id


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _clean_name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise TemplateError("give the query a name", field="name")
    if len(text) > MAX_NAME_LENGTH:
        raise TemplateError(f"the name is too long (at most {MAX_NAME_LENGTH} characters)",
                            field="name")
    return text


def _check_unique(session: Session, user: AccountInfo, name: str, except_id: int | None) -> None:
    # Names differing only in case would be told apart by nobody reading the list.
    query = select(TemplateRecord.id).where(
        TemplateRecord.user_id == user.id, func.lower(TemplateRecord.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(TemplateRecord.id != except_id)
    if session.scalar(query) is not None:
        raise TemplateError(f"you already have a saved query named {name!r}", field="name")


def _template(record: TemplateRecord, owner_login: str | None) -> Template:
    return Template(
        id=record.id,
        user_id=record.user_id,
        owner_login=owner_login,
        company_id=record.company_id,
        name=record.name,
        description=record.description,
        visibility=record.visibility,
        params=dict(record.params),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _visible_to(user: AccountInfo) -> ColumnElement[bool]:
    return or_(
        TemplateRecord.user_id == user.id,
        (TemplateRecord.visibility == "company") & (TemplateRecord.company_id == user.company_id),
    )


def save(
    user: AccountInfo,
    name: str,
    params: Mapping[str, Any],
    *,
    description: str = "",
    visibility: str = "private",
) -> Template:
    """Store a new template of ``user``; the name must be new among the user's templates."""
    name = _clean_name(name)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise TemplateError(
            f"the description is too long (at most {MAX_DESCRIPTION_LENGTH} characters)",
            field="description",
        )
    if visibility not in VISIBILITIES:
        raise TemplateError("choose who may see the query: only me or my company",
                            field="visibility")
    cleaned = snapshots.clean_params(params)
    if not cleaned:
        raise TemplateError("there are no query parameters to save", field="params")
    now = _now()
    record = TemplateRecord(
        user_id=user.id,
        company_id=user.company_id,
        name=name,
        description=description,
        visibility=visibility,
        params=cleaned,
        created_at=now,
        updated_at=now,
    )
    try:
        with db.session() as session:
            _check_unique(session, user, name, except_id=None)
            session.add(record)
    except IntegrityError:  # a concurrent save of the same name won the race
        raise TemplateError(f"you already have a saved query named {name!r}",
                            field="name") from None
    return _template(record, user.login)


def list_for(user: AccountInfo) -> list[Template]:
    """The user's own templates and those their company shares, own first, then by name."""
    with db.session() as session:
        rows = session.execute(
            select(TemplateRecord, User.login)
            .outerjoin(User, User.id == TemplateRecord.user_id)
            .where(_visible_to(user))
        ).all()
        templates = [_template(record, login) for record, login in rows]
    return sorted(templates, key=lambda t: (not t.owned_by(user), t.name.lower(), t.id))


def get(template_id: int | str | None, user: AccountInfo) -> Template | None:
    """The template if ``user`` may see it (their own, or shared with their company), else None."""
    try:
        wanted = int(str(template_id))
    except ValueError:
        return None
    with db.session() as session:
        row = session.execute(
            select(TemplateRecord, User.login)
            .outerjoin(User, User.id == TemplateRecord.user_id)
            .where(TemplateRecord.id == wanted, _visible_to(user))
        ).first()
        return _template(row[0], row[1]) if row else None


def _owned(session: Session, template_id: int | str | None, user: AccountInfo) -> TemplateRecord:
    try:
        wanted = int(str(template_id))
    except ValueError:
        raise TemplateError("no such saved query") from None
    record = session.scalar(
        select(TemplateRecord).where(TemplateRecord.id == wanted, _visible_to(user))
    )
    if record is None:
        raise TemplateError("no such saved query")
    if record.user_id != user.id:
        raise TemplateError("only the owner of a saved query can change or delete it")
    return record


def rename(template_id: int | str, user: AccountInfo, new_name: str) -> Template:
    """Give the user's own template a new name (unique among their templates)."""
    name = _clean_name(new_name)
    try:
        with db.session() as session:
            record = _owned(session, template_id, user)
            _check_unique(session, user, name, except_id=record.id)
            record.name = name
            record.updated_at = _now()
            session.flush()
            template = _template(record, user.login)
    except IntegrityError:
        raise TemplateError(f"you already have a saved query named {name!r}",
                            field="name") from None
    return template


def delete(template_id: int | str, user: AccountInfo) -> None:
    """Delete the user's own template."""
    with db.session() as session:
        session.delete(_owned(session, template_id, user))
