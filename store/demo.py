"""Demo data and the embedded instance's first start."""

from __future__ import annotations

from collections.abc import Iterator

from extensions import db
from store.schema import init_db


def prepare_embedded_instance() -> Iterator[str]:
    """Create the database; seed demo data and demo logins on first start. Yields console lines."""
    init_db(db.engine)
    yield "database ready"
