"""Flask routes of share links: ``GET /view/export`` and the 404 of ``/view`` for unknown tokens."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, Response, abort, current_app, request, send_file
from flask_login import current_user

from store.snapshots import load_snapshot, snapshot_exists

EXPORT_FORMATS = ("csv", "xlsx", "xls")
VIEW_PATH = "/view"

bp = Blueprint("share", __name__)


@bp.before_app_request
def unknown_snapshot_is_not_found() -> None:
    """``/view`` with an unknown or malformed token is a plain 404 (the Dash page is not served).

    Anonymous requests pass through untouched so the login requirement sends them to the login
    first: whether a token exists is only told to a logged-in user.
    """
    if request.method != "GET" or request.path.rstrip("/") != VIEW_PATH:
        return
    if not current_user.is_authenticated:
        return
    if not snapshot_exists(request.args.get("id")):
        abort(404)


@bp.get("/view/export")
def export_snapshot() -> Response:
    """The snapshot ``id`` as a CSV / XLSX / XLS attachment, rows as they were generated."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    fmt = request.args.get("format", "")
    if fmt not in EXPORT_FORMATS:
        abort(400, description=f"format must be one of {', '.join(EXPORT_FORMATS)}")
    snapshot = load_snapshot(request.args.get("id"))
    if snapshot is None:
        abort(404)
    from exports.files import file_bytes  # the outputs' writers, shared with the dashboard

    content, mimetype, filename = file_bytes(snapshot.report(), fmt, names=snapshot.filter_names)
    response = send_file(
        BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
