"""The logged-in user of the request a callback answers."""

from __future__ import annotations

from flask import has_request_context
from flask_login import current_user

from store.users import AccountInfo


def current_account() -> AccountInfo | None:
    """The logged-in user, or None outside a request or for an anonymous one.

    Callbacks must refuse to work for None: ``run_report(query, None)`` means the whole
    database, which is the command line's privilege, never the browser's.
    """
    if not has_request_context():
        return None
    user = current_user._get_current_object()
    if isinstance(user, AccountInfo) and user.is_authenticated:
        return user
    return None
