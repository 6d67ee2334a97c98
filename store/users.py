"""Users: creating them, their passwords, and looking them up for the login."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from store.models import ROLES, Company, User

# A hash no password matches: users imported from CSV cannot log in until set-password.
UNUSABLE_PASSWORD = "!"


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class AccountInfo:
    """What the web app keeps of a logged-in user (flask-login's ``UserMixin`` contract)."""

    id: int
    login: str
    role: str
    company_id: int
    email: str | None

    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)


def _info(user: User) -> AccountInfo:
    return AccountInfo(user.id, user.login, user.role, user.company_id, user.email)


def create_user(
    session: Session, login: str, password: str | None, role: str, company_id: int,
    email: str | None = None, user_id: int | None = None,
) -> AccountInfo:
    """Add a user; ``password`` None makes an account that cannot log in yet."""
    login = (login or "").strip()
    if not login:
        raise UserError("login must not be empty")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if session.get(Company, company_id) is None:
        raise UserError(f"unknown company {company_id}")
    if session.scalar(select(func.count()).select_from(User).where(User.login == login)):
        raise UserError(f"login {login!r} is taken")
    if password is not None and len(password) < 8:
        raise UserError("password must have at least 8 characters")
    user = User(
        id=user_id,
        login=login,
        password_hash=generate_password_hash(password) if password is not None else UNUSABLE_PASSWORD,
        role=role,
        company_id=company_id,
        email=email,
    )
    session.add(user)
    session.flush()
    return _info(user)


def set_password(session: Session, login: str, password: str) -> None:
    """Give ``login`` a new password (hashed with werkzeug)."""
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise UserError(f"unknown user {login!r}")
    user.password_hash = generate_password_hash(password)


def authenticate(engine: Engine, login: str, password: str) -> AccountInfo | None:
    """The user if ``password`` is right for ``login``, else None (same answer for both cases)."""
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.login == (login or "").strip()))
        if user is None or user.password_hash == UNUSABLE_PASSWORD:
            # Spend the same time as a real check so a wrong login is not told apart by timing.
            check_password_hash(generate_password_hash("x"), password or "")
            return None
        return _info(user) if check_password_hash(user.password_hash, password or "") else None


def load_user(engine: Engine, user_id: int) -> AccountInfo | None:
    with Session(engine) as session:
        user = session.get(User, user_id)
        return _info(user) if user is not None else None


def load_user_by_login(engine: Engine, login: str) -> AccountInfo | None:
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.login == login))
        return _info(user) if user is not None else None
