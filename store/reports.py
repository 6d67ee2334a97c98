"""Running a report for a user: load the ledger they may see, call the engine, add metadata."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError

from extensions import db
from metrics.engine import build_report
from metrics.errors import DataUnavailable
from metrics.query import ReportQuery
from metrics.report import Report
from metrics.scope import descendants
from store.ledger import client_filter_for, ledgers, scope_tree
from store.users import AccountInfo

log = logging.getLogger(__name__)


def run_report(query: ReportQuery, user: AccountInfo | None) -> Report:
    """The report of ``query`` within ``user``'s scope (None: the whole database).

    Raises ``metrics.errors.ReportError`` (safe message) for anything the user can fix, and
    ``DataUnavailable`` when the database cannot be reached.
    """
    started = time.perf_counter()
    generated_at = datetime.now(UTC).replace(tzinfo=None)
    engine = db.engine
    try:
        tree = scope_tree(engine)
        scope_company = None if user is None else user.company_id
        scope = None if scope_company is None else descendants(tree, scope_company)
        if scope is not None and scope == set(tree):
            scope, scope_company = None, None  # the root company sees everything
        prepared = ledgers.get(
            engine, current_app.config["BASE_CURRENCY"], client_filter_for(query, tree, scope)
        )
    except (OperationalError, DBAPIError) as error:
        log.error("database unavailable while loading the ledger: %s", error)
        raise DataUnavailable("the database is unavailable; please try again in a moment") from None
    report = build_report(prepared, query, scope_company_id=scope_company)
    return replace(
        report,
        generated_by=f"{user.role} {user.login}" if user else "command line",
        generated_at=generated_at,
        duration_seconds=time.perf_counter() - started,
    )
