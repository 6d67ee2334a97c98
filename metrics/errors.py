"""Errors whose message is safe to show to the user who caused them."""


DATABASE_UNAVAILABLE = "The database is unavailable; please try again in a moment."


class ReportError(Exception):
    """A report cannot be made as asked; ``str(error)`` says why, in one line, for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The query parameter the message is about (``interval``, ``currency``, …), if any,
        # so a form can show it next to that field.
        self.field = field


class InvalidQuery(ReportError):
    """A parameter of the query is missing, malformed or outside the user's scope."""


class DataError(ReportError):
    """The data cannot answer the query (e.g. a currency without any rate)."""


class DataUnavailable(ReportError):
    """The database cannot be reached; the message says so without details."""


def shown(value: object, limit: int = 40) -> str:
    """``repr`` of a user's value for a message, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed(values: list, limit: int = 5) -> str:
    """The first few of ``values`` for a message, and how many more there are."""
    head = ", ".join(str(v) if isinstance(v, int) else shown(v) for v in values[:limit])
    return head if len(values) <= limit else f"{head} and {len(values) - limit:,} more"
