"""Component ids shared by layouts, callbacks and tests (SPEC §5 names where it fixes them).

String constants are plain ids; the ``*_TYPE`` constants are the ``type`` of pattern-matching
ids, built by the small functions at the end (``filter_value("company")`` and so on).
"""

from __future__ import annotations

# SPEC §5 — tests rely on these.
INTERVAL_START = "interval-start"
INTERVAL_END = "interval-end"
INTERVAL_TZ = "interval-tz"
GROUP_BY = "group-by"
OUTPUT_TYPE = "output-type"
SEND_TO = "send-to"
CURRENCY = "currency"
ACTIVE_DURATION = "active-duration"
QUERY_BUTTON = "query-button"
QUERY_ERROR = "query-error"
REPORT_GRID = "report-grid"
EXPORT_CSV = "export-csv"
EXPORT_XLSX = "export-xlsx"
SHOW_CHART = "show-chart"
CHART_AREA = "chart-area"
SHARE_LINK = "share-link"
REPORT_INFO = "report-info"
SAVE_QUERY = "save-query"
LOAD_QUERY = "load-query"

# The page shell.
URL = "url"
PAGE = "page"
NAVBAR = "navbar"
LOGOUT_BUTTON = "logout-button"

# The query form.
QUERY_FORM = "query-form"
INTERVAL_PRESETS = "interval-presets"  # the presets menu; its label names the chosen preset
INTERVAL_PRESET = "interval-preset"  # Store: {"name", "from", "to"} of the chosen preset, or None
BROWSER_TZ = "browser-tz"  # Store: True when the time zone is to be taken from the browser
GROUP_BY_PREVIOUS = "group-by-previous"  # Store: the group-by value before the last change
SEND_TO_HELP = "send-to-help"
ADD_FILTER = "add-filter"  # the "Add filter" button
ADD_FILTER_MENU = "add-filter-menu"  # its popover
ADD_FILTER_SEARCH = "add-filter-search"  # the quick-search box at the top of the menu
ADD_FILTER_EMPTY = "add-filter-empty"  # "no filter matches"
ACTIVE_FILTERS = "active-filters"  # Store: the added filters' kinds, in the order added
FILTER_LIST = "filter-list"
FORM_LOAD = "form-load"  # Store: write SPEC §5 params here to fill the form (saved queries)
URL_SYNC = "url-sync"  # Store: the query string last written to the address bar
QUERY_STATUS = "query-status"  # non-error news about the last query (file sent, …)
MAIL_REQUEST = "mail-request"  # Store: the outbox request id of the last "Send to"
MAIL_POLL = "mail-poll"  # dcc.Interval polling that request's delivery until it is final
MAIL_STATUS = "mail-status"  # each recipient's delivery state

# The results.
RESULTS = "report-results"  # the area the grid is rendered into
RESULTS_LOADING = "report-loading"
REPORT_SUMMARY = "report-summary"
REPORT_ACTIONS = "report-actions"  # buttons acting on the report on screen
REPORT_INFO_POPOVER = "report-info-popover"
REPORT_INFO_BODY = "report-info-body"
REPORT_STORE = "report-store"  # Store: the report on screen (see callbacks/report_store.py)
REPORT_DOWNLOAD = "report-download"  # dcc.Download of a CSV / XLS / XLSX output

# The report actions (layouts/actions.py): exports of the data on screen, the share link.
EXPORT_DOWNLOAD = "export-download"  # dcc.Download of Export to CSV / XLSX
EXPORT_ERROR = "export-error"  # why an export could not be made
SHARE_LINK_GROUP = "share-link-group"  # SHARE_LINK and its copy button; hidden without a link
SHARE_LINK_COPY = "share-link-copy"  # dcc.Clipboard of SHARE_LINK

# Pattern-matching id types.
PRESET_TYPE = "interval-preset-item"
ADD_FILTER_ITEM_TYPE = "add-filter-item"
FILTER_ROW_TYPE = "filter-row"
FILTER_VALUE_TYPE = "filter-value"
FILTER_DELETE_TYPE = "filter-delete"
FIELD_ERROR_TYPE = "field-error"


def preset_item(name: str) -> dict[str, str]:
    return {"type": PRESET_TYPE, "name": name}


def add_filter_item(kind: str) -> dict[str, str]:
    return {"type": ADD_FILTER_ITEM_TYPE, "kind": kind}


def filter_row(kind: str) -> dict[str, str]:
    return {"type": FILTER_ROW_TYPE, "kind": kind}


def filter_value(kind: str) -> dict[str, str]:
    """The multi-select of one filter; ``kind`` is its SPEC §5 parameter (``company``, …)."""
    return {"type": FILTER_VALUE_TYPE, "kind": kind}


def filter_delete(kind: str) -> dict[str, str]:
    return {"type": FILTER_DELETE_TYPE, "kind": kind}


def field_error(field: str) -> dict[str, str]:
    """Where the message of a ``ReportError`` whose ``field`` is ``field`` is shown."""
    return {"type": FIELD_ERROR_TYPE, "field": field}
