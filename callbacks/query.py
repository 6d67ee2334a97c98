"""The Query button: validate the form, run the report for the logged-in user, show it.

The callback computes nothing itself: it turns the form into SPEC §5 parameters, lets
``metrics.query`` validate them, checks the named ids against the user's scope, calls
``store.reports.run_report`` with the logged-in user and formats what comes back. A
``ReportError`` is shown next to its field and in ``query-error``; anything else is logged and
shown as a generic failure, never as a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from flask import current_app
from sqlalchemy.exc import InterfaceError, OperationalError

from callbacks.report_store import report_store_data
from callbacks.session import current_account
from exports.files import file_bytes
from exports.mail import parse_recipients, report_message
from extensions import db
from layouts import ids
from layouts.charts import CHART_PARAM, CHART_STATE
from layouts.dashboard import FIELD_ERRORS
from layouts.form_state import FILTER_KINDS, form_params
from layouts.grid import records_grid
from layouts.report_info import info_body, summary_text
from metrics.errors import DATABASE_UNAVAILABLE, InvalidQuery, ReportError, listed
from metrics.query import MAX_ACTIVE_MONTHS, ReportQuery, query_from_params
from store.options import filter_options
from store.outbox import enqueue, new_request_id, status_for
from store.reports import run_report
from store.snapshots import create_snapshot, share_url
from store.users import AccountInfo

log = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "The report could not be made because of an unexpected problem. It has been logged; "
    "please try again, and tell your administrator if it persists."
)
NOT_LOGGED_IN = "Your session has ended; please log in again."

# The form's values, in the order ``params_from_form_values`` takes them. Other features that
# need the parameters of the form (saving a query, …) use these States and that function.
FORM_STATES: tuple[State, ...] = (
    State(ids.INTERVAL_START, "value"),
    State(ids.INTERVAL_END, "value"),
    State(ids.INTERVAL_TZ, "value"),
    State(ids.INTERVAL_PRESET, "data"),
    State(ids.GROUP_BY, "value"),
    State(ids.CURRENCY, "value"),
    State(ids.ACTIVE_DURATION, "value"),
    State(ids.OUTPUT_TYPE, "value"),
    State(ids.ACTIVE_FILTERS, "data"),
    *(State(ids.filter_value(kind), "value") for kind in FILTER_KINDS),
    State(CHART_STATE, "data"),  # the open charts, so a saved query brings them back
)


def params_from_form_values(*values: Any) -> dict[str, str | list[str]]:
    """SPEC §5 parameters from the values of ``FORM_STATES``, in that order."""
    start, end, tz, preset, group, currency, active, output, active_filters, *filters, chart = values
    params = form_params(
        start=start, end=end, tz=tz, preset=preset, group=group, currency=currency,
        active=active, output=output, active_filters=active_filters,
        filter_values=dict(zip(FILTER_KINDS, filters, strict=True)),
    )
    if chart:
        params[CHART_PARAM] = str(chart)
    return params


_SCOPED_FILTERS = (
    ("company", "company_ids", "company"),
    ("owner", "owner_ids", "owner user"),
    ("package", "package_ids", "package"),
)


def check_scope(query: ReportQuery, user: AccountInfo) -> None:
    """Refuse a company, owner or package the user has no choice of (whatever the browser sent).

    Unknown and out-of-scope ids get the same message, so that no one can probe which ids
    exist outside their scope. ``run_report`` checks the scope again.
    """
    for kind, attribute, noun in _SCOPED_FILTERS:
        wanted = getattr(query, attribute)
        if not wanted:
            continue
        allowed = {option.value for option in filter_options(db.engine, user, kind)}
        refused = [value for value in wanted if value not in allowed]
        if refused:
            shown = listed(refused)
            raise InvalidQuery(
                f"{noun} {shown} is unknown or outside your scope" if len(refused) == 1
                else f"{noun}s {shown} are unknown or outside your scope",
                field=kind,
            )


def _send_to_recipients(send_to: str | None, output: str) -> list[str]:
    if output == "web" or not (send_to or "").strip():
        return []
    return parse_recipients(send_to)  # RecipientError (a ReportError about send_to)


@dataclass
class QueryOutcome:
    """What the page shows after a press of Query."""

    store: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    status: str = ""
    download: dict[str, Any] | None = None
    mail_request: str | None = None

    @property
    def ok(self) -> bool:
        return self.store is not None


def _snapshot(report: Any, user: AccountInfo, params: Mapping[str, Any], output: str
              ) -> tuple[str | None, str | None]:
    try:
        token = create_snapshot(report, user, params, output)
        return token, share_url(token)
    except Exception:  # the report is still worth showing without its link
        log.exception("could not store the snapshot of a report")
        return None, None


def _queue_mail(report: Any, output: str, recipients: list[str], token: str | None,
                url: str | None, user: AccountInfo) -> str:
    message = report_message(
        report, output, mail_from=current_app.config["MAIL_FROM"], share_url=url
    )
    request_id = new_request_id()
    with db.session() as session:
        enqueue(session, message, recipients, request_id=request_id, snapshot_token=token,
                requested_by=user.id)
    return request_id


def run_query(
    params: Mapping[str, Any], send_to: str | None, user: AccountInfo | None
) -> QueryOutcome:
    """Validate ``params``, run the report for ``user`` and prepare what the page shows."""
    if user is None:
        return QueryOutcome(summary=[NOT_LOGGED_IN])
    output = str(params.get("output") or "web")
    try:
        if str(params.get("active", "")).strip() == "":
            raise InvalidQuery(
                f"give the active duration as whole months, 1 to {MAX_ACTIVE_MONTHS}",
                field="active",
            )
        recipients = _send_to_recipients(send_to, output)
        query = query_from_params(dict(params))
        check_scope(query, user)
        report = run_report(query, user)
        token, url = _snapshot(report, user, params, output)
        outcome = QueryOutcome(
            store=report_store_data(report, params, output=output, snapshot=token,
                                    share_url=url)
        )
        if output != "web":
            content, _mimetype, filename = file_bytes(report, output)
            outcome.download = dcc.send_bytes(content, filename)
            outcome.status = f"{filename} is downloading."
        if recipients:
            outcome.mail_request = _queue_mail(report, output, recipients, token, url, user)
            outcome.status += f" E-mail to {', '.join(recipients)} queued for sending."
        outcome.status = outcome.status.strip()
        return outcome
    except ReportError as error:
        message = error.message[:1].upper() + error.message[1:]
        errors = {error.field: message} if error.field in FIELD_ERRORS else {}
        return QueryOutcome(errors=errors, summary=[message])
    except (OperationalError, InterfaceError):  # the database went away before the report
        log.warning("database unavailable during a query by %s", user.login, exc_info=True)
        return QueryOutcome(summary=[DATABASE_UNAVAILABLE])
    except Exception:
        log.exception("the report failed for user %s with %r", user.login, dict(params))
        return QueryOutcome(summary=[GENERIC_FAILURE])


def _results(store: Mapping[str, Any]) -> Component:
    return records_grid(store["columns"], store["records"], ids.REPORT_GRID)


def on_query(n_clicks: int | None, send_to: str | None, *form_values: Any) -> tuple:
    """Outputs: store, results, summary, info body, info disabled, errors, status, download,
    mail request, error fields (all of ``FIELD_ERRORS``, in the order Dash lists them)."""
    try:
        params = params_from_form_values(*form_values)
    except InvalidQuery as error:  # values of the wrong type: a tampered request
        outcome = QueryOutcome(summary=[error.message[:1].upper() + error.message[1:]])
    else:
        outcome = run_query(params, send_to, current_account())
    slots = ctx.outputs_list[-1] if ctx.outputs_list else []
    field_messages = [outcome.errors.get(slot["id"]["field"], "") for slot in slots]
    summary: Component | str = ""
    if outcome.summary:
        summary = html.Div([html.Strong("The report was not made. "), *outcome.summary])
    if not outcome.ok:
        return (no_update, no_update, no_update, no_update, no_update, summary, "",
                no_update, no_update, field_messages)
    store = outcome.store
    assert store is not None
    return (
        store,
        _results(store),
        summary_text(store),
        info_body(store),
        False,
        summary,
        outcome.status,
        outcome.download if outcome.download else no_update,
        outcome.mail_request if outcome.mail_request else no_update,
        field_messages,
    )


def mail_status(_ticks: int | None, request_id: str | None) -> tuple[Component | str, bool]:
    """Each recipient's delivery state of the last send; polling stops once all are final."""
    user = current_account()
    if not request_id or user is None:
        return "", True
    statuses = status_for(db.engine, request_id, requested_by=user.id)
    if not statuses:
        return "", True
    lines = [
        html.Div(f"{s.recipient}: {s.describe()}",
                 className="text-danger" if s.status == "failed" else "text-muted")
        for s in statuses
    ]
    return html.Div(lines), all(s.final for s in statuses)


def register(app: Dash) -> None:
    app.callback(
        Output(ids.MAIL_STATUS, "children"),
        Output(ids.MAIL_POLL, "disabled"),
        Input(ids.MAIL_POLL, "n_intervals"),
        Input(ids.MAIL_REQUEST, "data"),
        prevent_initial_call=True,
    )(mail_status)

    app.callback(
        Output(ids.REPORT_STORE, "data"),
        Output(ids.RESULTS, "children"),
        Output(ids.REPORT_SUMMARY, "children"),
        Output(ids.REPORT_INFO_BODY, "children"),
        Output(ids.REPORT_INFO, "disabled"),
        Output(ids.QUERY_ERROR, "children"),
        Output(ids.QUERY_STATUS, "children"),
        Output(ids.REPORT_DOWNLOAD, "data"),
        Output(ids.MAIL_REQUEST, "data"),
        Output({"type": ids.FIELD_ERROR_TYPE, "field": ALL}, "children"),
        Input(ids.QUERY_BUTTON, "n_clicks"),
        State(ids.SEND_TO, "value"),
        *FORM_STATES,
        prevent_initial_call=True,
        # The button is disabled while the report is computed: a second click cannot start a
        # second computation.
        running=[
            (Output(ids.QUERY_BUTTON, "disabled"), True, False),
            (Output(ids.QUERY_BUTTON, "children"),
             [dbc.Spinner(size="sm", spinner_class_name="me-2"), "Computing…"], "Query"),
        ],
    )(on_query)

