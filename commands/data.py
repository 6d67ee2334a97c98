"""Commands that set up and load the database: init-db, seed-demo, create-user, set-password,
import-csv (SPEC §5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import with_appcontext

from extensions import db
from store.importer import ImportFailed, import_directory
from store.models import ROLES
from store.schema import init_db
from store.seed import SeedError, SeedOptions, seed_steps
from store.users import UserError, create_user, set_password

# Exit status of a command refused because of what the user asked (as ``report``'s bad input).
USAGE_ERROR = 2


def _fail(message: str, status: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(status)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create missing tables; idempotent."""
    init_db(db.engine)
    click.echo("database ready")


@click.command("seed-demo")
@click.option("--clients", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Number of clients.")
@click.option("--days", type=click.IntRange(min=1, max=36500), default=730, show_default=True,
              help="Length of the ledger in days; it ends at today's midnight (UTC).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed: the same seed (and day) gives the same data.")
@click.option("--reset", is_flag=True,
              help="Delete the existing data first: companies, users, clients, transactions, "
              "… and the saved queries of the deleted users.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), hidden=True,
              help="Pretend today is this date (tests).")
@with_appcontext
def seed_demo_command(clients: int, days: int, seed: int, reset: bool,
                      today: datetime | None) -> None:
    """Fill an empty database with realistic demo data ending today.

    Companies in a reseller tree, users of each role (they cannot log in until
    `dynamics set-password LOGIN`), clients of every type in several currencies with daily
    rates, tags, packages, pay-as-you-go charges, refills, churn and adjustments; about 100
    transactions per client over 730 days. A database that already holds data is refused
    unless --reset is given.
    """
    options = SeedOptions(
        clients=clients, days=days, seed=seed, today=today.date() if today else None,
        base_currency=current_app.config.get("BASE_CURRENCY", "USD"),
    )
    init_db(db.engine)
    try:
        for line in seed_steps(db.engine, options, reset=reset):
            click.echo(line)
    except SeedError as exc:
        _fail(str(exc))


@click.command("create-user")
@click.argument("login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 8 characters; prompted for when absent.")
@click.option("--role", required=True, help=f"One of {', '.join(ROLES)}.")
@click.option("--company", "company_id", type=int, required=True, help="Company id.")
@click.option("--email", default=None, help="E-mail address (optional).")
@with_appcontext
def create_user_command(login: str, password: str, role: str, company_id: int,
                        email: str | None) -> None:
    """Create the user LOGIN with a (werkzeug-hashed) password."""
    try:
        with db.session() as session:
            user = create_user(session, login, password, role, company_id, email=email)
    except UserError as exc:
        _fail(str(exc), USAGE_ERROR)
    click.echo(f"created user {user.login} (id {user.id}, {user.role}, company {user.company_id})")


@click.command("set-password")
@click.argument("login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 8 characters; prompted for when absent.")
@with_appcontext
def set_password_command(login: str, password: str) -> None:
    """Give the user LOGIN a new password (also lets imported users log in)."""
    try:
        with db.session() as session:
            set_password(session, login, password)
    except UserError as exc:
        _fail(str(exc), USAGE_ERROR)
    click.echo(f"password of {login} set")


@click.command("import-csv")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def import_csv_command(directory: Path) -> None:
    """Load the CSV files of DIRECTORY in one transaction, all or nothing.

    Reads companies.csv, clients.csv, client_tags.csv, packages.csv, transactions.csv,
    currency_rates.csv and, if present, users.csv (id,login,role,company_id,email; such
    users cannot log in until `dynamics set-password LOGIN`). Each header names the columns
    of the table (SPEC §2), in any order; an empty cell is NULL; timestamps are UTC,
    YYYY-MM-DD HH:MM:SS[.ffffff] or ISO 8601. Rows may refer to rows already in the
    database. Every bad row is reported as file:line: reason and nothing is written.
    """
    init_db(db.engine)
    try:
        summary = import_directory(db.engine, directory)
    except ImportFailed as exc:
        for message in exc.messages:
            click.echo(message, err=True)
        if exc.total > len(exc.messages):
            click.echo(f"… and {exc.total - len(exc.messages)} more errors", err=True)
        _fail(f"{exc.total} errors in {directory}; nothing was imported")
    counts = ", ".join(f"{rows:,} {table}" for table, rows in summary.rows.items())
    click.echo(f"imported {counts} in {summary.seconds:.1f} s")


COMMANDS = [
    init_db_command,
    seed_demo_command,
    create_user_command,
    set_password_command,
    import_csv_command,
]
