"""Running a report for a user: load the ledger they may see, call the engine, add metadata."""

from __future__ import annotations

from metrics.query import ReportQuery
from metrics.report import Report
from store.users import AccountInfo


def run_report(query: ReportQuery, user: AccountInfo | None) -> Report:
    """The report of ``query`` within ``user``'s scope (None: the whole database).

    Raises ``metrics.errors.ReportError`` (safe message) for anything the user can fix.
    """
    raise NotImplementedError("the engine lands with issue 3")
