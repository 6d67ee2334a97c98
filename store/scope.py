"""A user's scope: their company and every company below it (SPEC §2)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from metrics.scope import descendants


def company_tree(conn: Connection) -> dict[int, int | None]:
    """company id -> parent id, for every company."""
    rows = conn.execute(text("SELECT id, parent_id FROM companies")).all()
    return {int(row[0]): (None if row[1] is None else int(row[1])) for row in rows}


def scope_company_ids(conn: Connection, company_id: int | None) -> set[int] | None:
    """The companies a user of ``company_id`` may see; None means every company there is."""
    if company_id is None:
        return None
    tree = company_tree(conn)
    found = descendants(tree, company_id) if company_id in tree else set()
    return None if found == set(tree) else found
