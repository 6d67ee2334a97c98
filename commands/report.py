"""``dynamics report``: the report engine on the command line (SPEC §5).

It is the reference every other output agrees with: the same ``run_report`` as the page, the
same writers as the downloads. Bad input exits 2 with one line on stderr and nothing on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from exports.cells import column_kind, count_value, round_money
from exports.delivery import deliver_request
from exports.files import csv_bytes, file_bytes
from exports.mail import parse_recipients, report_message
from extensions import db
from metrics.errors import ReportError
from metrics.query import query_from_params
from metrics.report import Report
from store.outbox import enqueue, new_request_id
from store.reports import run_report
from store.snapshots import create_snapshot, filter_names, share_url
from store.users import load_user_by_login

FORMATS = ("csv", "json", "xlsx", "xls")


def json_bytes(report: Report) -> bytes:
    """The report as JSON: rows of the SPEC §3 columns (money to 2 decimals, null when
    undefined) and the metadata."""
    rows = []
    for record in report.frame.to_dict("records"):
        row: dict[str, object] = {}
        for name, value in record.items():
            kind = column_kind(name)
            if kind == "count":
                row[name] = count_value(value)
            elif kind == "money":
                money = round_money(value)
                row[name] = None if money is None else float(money)
            else:
                row[name] = value
        rows.append(row)
    interval = report.data_interval
    document = {
        "query": report.query.to_params(),
        "currency": report.currency,
        "data_interval": None if interval is None else [t.isoformat() for t in interval],
        "generated_by": report.generated_by,
        "generated_at": report.generated_at.isoformat() if report.generated_at else None,
        "columns": list(report.frame.columns),
        "rows": rows,
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def fail(message: str) -> None:
    """Print one line to stderr and exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


class OneLineErrors(click.Command):
    """A command whose usage errors are one line, like its other errors."""

    def make_context(self, info_name, args, parent=None, **extra):  # noqa: ANN001, ANN201 - click API
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            fail(error.format_message().replace("\n", " "))


@click.command("report", cls=OneLineErrors)
@click.option(
    "--from", "start", help="Interval start, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], local to --tz."
)
@click.option("--to", "end", help="Interval end (exclusive), local to --tz.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--group-by", "group_by", multiple=True, help="year, month, date and/or package.")
@click.option("--currency", help="Report currency (default: the base currency).")
@click.option("--active-months", default="1", show_default=True, help="Active duration, 1..120.")
@click.option("--client-type", multiple=True, help="client, reseller, calling_card, call_shop.")
@click.option("--tag", multiple=True, help="Clients having at least one of these tags.")
@click.option("--company", multiple=True, help="Company id (and the companies below it).")
@click.option("--owner", multiple=True, help="Owner user id.")
@click.option("--package", multiple=True, help="Package id.")
@click.option("--as-user", help="Apply this user's scope (default: the whole database).")
@click.option("--format", "fmt", default="csv", show_default=True, help="csv, json, xlsx or xls.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE instead of stdout.",
)
@click.option("--share", is_flag=True, help="Store a snapshot and print its URL.")
@click.option(
    "--send-to", "send_to", multiple=True, help="E-mail the file to this address (repeatable)."
)
@with_appcontext
def report_command(
    start: str | None,
    end: str | None,
    tz: str,
    group_by: tuple[str, ...],
    currency: str | None,
    active_months: str,
    client_type: tuple[str, ...],
    tag: tuple[str, ...],
    company: tuple[str, ...],
    owner: tuple[str, ...],
    package: tuple[str, ...],
    as_user: str | None,
    fmt: str,
    output: str | None,
    share: bool,
    send_to: tuple[str, ...],
) -> None:
    """Print the Customer Dynamics report (CSV to stdout by default)."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt in ("xlsx", "xls") and not output:
        fail(f"--format {fmt} needs --output FILE")
    params = {
        "from": start,
        "to": end,
        "tz": tz,
        "group": list(group_by),
        "currency": currency,
        "active": active_months,
        "type": list(client_type),
        "tag": list(tag),
        "company": list(company),
        "owner": list(owner),
        "package": list(package),
    }
    user = None
    recipients: list[str] = []
    try:
        if send_to:
            if fmt == "json":
                fail("--send-to needs a file format: --format csv, xlsx or xls")
            recipients = parse_recipients(list(send_to))
        query = query_from_params(params)
        if as_user is not None:
            user = load_user_by_login(db.engine, as_user)
            if user is None:
                fail(f"unknown user {as_user!r}")
        report = run_report(query, user)
    except ReportError as error:
        fail(error.message)
    except SQLAlchemyError:
        fail("the database is unavailable or not initialised (run `dynamics init-db`)")
    if fmt == "json":
        content = json_bytes(report)
    elif fmt == "csv" and not output:
        content = csv_bytes(report, bom=False)  # a pipe wants no BOM; files keep it for Excel
    else:
        content = file_bytes(report, fmt, names=filter_names(report.query))[0]
    if output:
        Path(output).write_bytes(content)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()

    # Links and delivery results go to stderr when stdout carries the report itself.
    def notice(line: str) -> None:
        click.echo(line, err=not output)

    token = None
    if share or recipients:
        token = create_snapshot(report, user, params, "cli")
        notice(share_url(token))
    if recipients:
        message = report_message(
            report,
            fmt,
            mail_from=current_app.config["MAIL_FROM"],
            share_url=share_url(token),
            names=filter_names(report.query),
        )
        request_id = new_request_id()
        with db.session() as session:
            enqueue(session, message, recipients, request_id=request_id, snapshot_token=token,
                    requested_by=user.id if user else None)
        for status in deliver_request(current_app._get_current_object(), request_id):
            notice(f"{status.recipient}: {status.describe()}")


COMMANDS = [report_command]
