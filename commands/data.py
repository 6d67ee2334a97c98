"""Commands that set up and load the database: init-db, seed-demo, create-user, import-csv."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from extensions import db
from store.schema import init_db


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create missing tables; idempotent."""
    init_db(db.engine)
    click.echo("database ready")


COMMANDS = [init_db_command]
