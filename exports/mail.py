"""The report e-mail: recipients from user input, and the message with the file attached."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from exports.files import file_bytes
from exports.title import REPORT_NAME, FilterNames, period_words, report_title
from metrics.errors import ReportError, listed
from metrics.query import ReportQuery
from metrics.report import Report

MAX_RECIPIENTS = 20
# A pragmatic address check: one @, no spaces or brackets, a dotted domain of DNS labels.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_SEPARATORS = re.compile(r"[,;\n\r]+")
_ANGLE = re.compile(r"<([^<>]*)>\s*$")


class RecipientError(ReportError):
    """The "Send to" field holds something that is not a list of e-mail addresses."""

    def __init__(self, message: str, bad: list[str] | None = None) -> None:
        super().__init__(message, field="send_to")
        self.bad = bad or []


def _pieces(value: str | Iterable[str]) -> list[str]:
    texts = [value] if isinstance(value, str) else [str(v) for v in value if v is not None]
    pieces: list[str] = []
    for text in texts:
        for part in _SEPARATORS.split(text):
            part = part.strip()
            if not part:
                continue
            if _ANGLE.search(part):  # "Jane Doe <jane@example.com>"
                pieces.append(part)
            else:
                pieces.extend(part.split())
    return pieces


def parse_recipients(value: str | Iterable[str] | None, limit: int = MAX_RECIPIENTS) -> list[str]:
    """The addresses in ``value`` (separated by commas, semicolons, spaces or lines), deduplicated.

    Raises ``RecipientError`` naming every piece that is not an address, or when there are more
    than ``limit`` addresses. An empty input gives an empty list.
    """
    addresses: list[str] = []
    seen: set[str] = set()
    bad: list[str] = []
    for piece in _pieces(value or ""):
        match = _ANGLE.search(piece)
        address = (match.group(1) if match else piece).strip()
        if not _ADDRESS.match(address) or parseaddr(address)[1] != address:
            bad.append(piece)
            continue
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    if bad:
        shown = listed(bad)
        noun = "is not an e-mail address" if len(bad) == 1 else "are not e-mail addresses"
        raise RecipientError(f"{shown} {noun}", bad=bad)
    if len(addresses) > limit:
        raise RecipientError(f"at most {limit} recipients, not {len(addresses)}")
    return addresses


def report_subject(query: ReportQuery) -> str:
    """``Customer Dynamics report 2025-01-01 to 2025-04-01``."""
    return f"{REPORT_NAME} report {period_words(query)}"


def message_body(title: Mapping[str, str], share_url: str | None, filename: str) -> str:
    """The plain-text body: the parameters in words, the share link, the attachment's name."""
    width = max((len(label) for label in title), default=0) + 1
    lines = [f"{REPORT_NAME} report", ""]
    lines += [f"{(label + ':').ljust(width)} {value}" for label, value in title.items()]
    lines.append("")
    if share_url:
        lines += ["The report online (an unchanging snapshot):", share_url, ""]
    lines += [f"The report is attached as {filename}.", ""]
    return "\n".join(lines)


def build_message(
    *,
    mail_from: str,
    subject: str,
    title: Mapping[str, str],
    content: bytes,
    mimetype: str,
    filename: str,
    share_url: str | None = None,
    to: str | Iterable[str] = (),
) -> EmailMessage:
    """An e-mail with ``content`` attached; ``To`` may stay empty (the outbox sets one per row)."""
    message = EmailMessage()
    message["From"] = mail_from
    recipients = [to] if isinstance(to, str) else list(to)
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message.set_content(message_body(title, share_url, filename))
    maintype, _, subtype = mimetype.partition(";")[0].strip().partition("/")
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def report_message(
    report: Report,
    fmt: str,
    *,
    mail_from: str,
    share_url: str | None = None,
    to: str | Iterable[str] = (),
    names: FilterNames | None = None,
) -> EmailMessage:
    """The e-mail of ``report`` as a ``fmt`` file (csv, xlsx, xls) with the share link."""
    content, mimetype, filename = file_bytes(report, fmt, names=names)
    return build_message(
        mail_from=mail_from,
        subject=report_subject(report.query),
        title=report_title(report, names),
        content=content,
        mimetype=mimetype,
        filename=filename,
        share_url=share_url,
        to=to,
    )
