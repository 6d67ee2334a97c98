"""Creating the schema: tables, and the triggers that keep ``ledger_version`` current."""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.models import SOURCE_TABLES, Base


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in SOURCE_TABLES:
        for op in ("INSERT", "UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS trg_{table}_{op.lower()}_version "
                f"AFTER {op} ON {table} BEGIN "
                "UPDATE ledger_version SET version = version + 1 WHERE id = 1; END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        "CREATE OR REPLACE FUNCTION bump_ledger_version() RETURNS trigger AS $$ "
        "BEGIN UPDATE ledger_version SET version = version + 1 WHERE id = 1; RETURN NULL; END; "
        "$$ LANGUAGE plpgsql"
    ]
    for table in SOURCE_TABLES:
        statements.append(f"DROP TRIGGER IF EXISTS trg_{table}_version ON {table}")
        statements.append(
            f"CREATE TRIGGER trg_{table}_version AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_ledger_version()"
        )
    return statements


def init_db(engine: Engine) -> None:
    """Create missing tables and the version triggers; safe to run any number of times."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_version (id, version) SELECT 1, 0 "
                "WHERE NOT EXISTS (SELECT 1 FROM ledger_version WHERE id = 1)"
            )
        )
        triggers = (
            _postgresql_triggers() if engine.dialect.name == "postgresql" else _sqlite_triggers()
        )
        for statement in triggers:
            conn.execute(text(statement))


def ledger_version(engine: Engine) -> int:
    """The current value of the change counter of the source tables."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM ledger_version WHERE id = 1")).scalar_one())
