"""The dashboard's callbacks through Dash's HTTP API (``POST /_dash-update-component``), as a
script could call them whatever the page shows: ``pytest -k api``.

A reseller user must get only their scope back, and ids outside it must be refused.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from callbacks.report_store import report_from_store, report_store_data
from extensions import db
from layouts import ids
from layouts.charts import CHART_STATE
from layouts.dashboard import FIELD_ERRORS
from layouts.form_state import FILTER_KINDS, form_params, form_state, parse_search, preset_interval
from layouts.grid import column_defs, grid_rows
from metrics.columns import GROUPS, report_columns
from metrics.query import query_from_params
from store.reports import run_report
from store.users import load_user_by_login
from tests.dashboard_seed import ADMIN, PASSWORD, R1A, R2, load_scoped_example

INTERVAL = {"from": "2025-01-01 00:00", "to": "2025-04-01 00:00"}
OTHER_RESELLER_WORDS = ("R2", "platinum", R2, "1234567.891", "1,234,567")


@pytest.fixture
def seeded(app):
    with app.server.app_context():
        load_scoped_example(db.engine)
    return app


def logged_in(app, login: str):
    client = app.server.test_client()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _key(app, first_output: str) -> str:
    return next(key for key in app.callback_map if key.lstrip(".").startswith(first_output))


def _slot(id_: str | dict, prop: str, value: Any = None) -> dict[str, Any]:
    return {"id": id_, "property": prop, "value": value}


def call(client, app, first_output: str, outputs, inputs, state, changed: list[str]) -> Any:
    """POST one callback; the decoded response (``{"response": {id: {prop: value}}}``)."""
    body = {
        "output": _key(app, first_output),
        "outputs": outputs,
        "inputs": inputs,
        "state": state,
        "changedPropIds": changed,
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    return response.get_json() if response.status_code == 200 else None


def query(client, app, *, filters: dict[str, list] | None = None, **form: Any) -> tuple[Any, str]:
    """Press Query with the given form values; (decoded response, raw text)."""
    filters = filters or {}
    values = {"from": INTERVAL["from"], "to": INTERVAL["to"], "tz": "UTC", "group": ["month"],
              "currency": "USD", "active": 1, "output": "web", **form}
    outputs = [
        _slot(ids.REPORT_STORE, "data"), _slot(ids.RESULTS, "children"),
        _slot(ids.REPORT_SUMMARY, "children"), _slot(ids.REPORT_INFO_BODY, "children"),
        _slot(ids.REPORT_INFO, "disabled"), _slot(ids.QUERY_ERROR, "children"),
        _slot(ids.QUERY_STATUS, "children"), _slot(ids.REPORT_DOWNLOAD, "data"),
        _slot(ids.MAIL_REQUEST, "data"),
        [_slot(ids.field_error(f), "children") for f in FIELD_ERRORS],
    ]
    state = [
        _slot(ids.SEND_TO, "value", values.get("send_to", "")),
        _slot(ids.INTERVAL_START, "value", values["from"]),
        _slot(ids.INTERVAL_END, "value", values["to"]),
        _slot(ids.INTERVAL_TZ, "value", values["tz"]),
        _slot(ids.INTERVAL_PRESET, "data", None),
        _slot(ids.GROUP_BY, "value", values["group"]),
        _slot(ids.CURRENCY, "value", values["currency"]),
        _slot(ids.ACTIVE_DURATION, "value", values["active"]),
        _slot(ids.OUTPUT_TYPE, "value", values["output"]),
        _slot(ids.ACTIVE_FILTERS, "data", list(filters)),
        *(_slot(ids.filter_value(kind), "value", filters.get(kind, [])) for kind in FILTER_KINDS),
        _slot(CHART_STATE, "data", None),
    ]
    for item in outputs[:-1]:
        item.pop("value")
    for item in outputs[-1]:
        item.pop("value")
    decoded = call(client, app, "report-store.data", outputs,
                   [_slot(ids.QUERY_BUTTON, "n_clicks", 1)], state, ["query-button.n_clicks"])
    return decoded, json.dumps(decoded)


def field_errors(decoded: Any) -> dict[str, str]:
    response = decoded["response"]
    return {
        json.loads(key)["field"]: value["children"]
        for key, value in response.items()
        if key.startswith("{") and value.get("children")
    }


def add_filter(client, app, kind: str, active: list[str] | None = None) -> Any:
    """Click the "Add filter" menu item of ``kind``; the decoded response."""
    outputs = [
        {"id": ids.ACTIVE_FILTERS, "property": "data"},
        [{"id": ids.filter_row(k), "property": "style"} for k in FILTER_KINDS],
        [{"id": ids.filter_value(k), "property": "value"} for k in FILTER_KINDS],
        [{"id": ids.filter_value(k), "property": "options"} for k in FILTER_KINDS],
        {"id": ids.ADD_FILTER_MENU, "property": "is_open"},
    ]
    inputs = [
        [_slot(ids.add_filter_item(k), "n_clicks", 1 if k == kind else 0) for k in FILTER_KINDS],
        [_slot(ids.filter_delete(k), "n_clicks", 0) for k in FILTER_KINDS],
    ]
    changed = [json.dumps(ids.add_filter_item(kind), separators=(",", ":"),
                          sort_keys=True) + ".n_clicks"]
    return call(client, app, "active-filters.data", outputs, inputs,
                [_slot(ids.ACTIVE_FILTERS, "data", active or [])], changed)


def options_of(decoded: Any, kind: str) -> list[str]:
    key = json.dumps(ids.filter_value(kind), separators=(",", ":"), sort_keys=True)
    return [o["label"] for o in decoded["response"][key]["options"]]


def expected_records(app, login: str, params: dict) -> list[dict]:
    with app.server.app_context():
        report = run_report(query_from_params(params), load_user_by_login(db.engine, login))
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in report.frame.to_dict("records")
    ]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("company", 4, "Company 4 is unknown or outside your scope"),
        ("company", 1, "Company 1 is unknown or outside your scope"),  # their parent
        ("company", 999, "Company 999 is unknown or outside your scope"),
        ("owner", 3, "Owner user 3 is unknown or outside your scope"),
        ("owner", 1, "Owner user 1 is unknown or outside your scope"),
        ("package", 99, "Package 99 is unknown or outside your scope"),
    ],
)
def test_api001_ids_outside_the_scope_are_refused(seeded, kind, value, message):
    client = logged_in(seeded, R1A)
    decoded, text = query(client, seeded, filters={kind: [value]})
    response = decoded["response"]
    assert ids.REPORT_STORE not in response  # no report at all
    assert message in text
    assert field_errors(decoded) == {kind: message}
    for word in OTHER_RESELLER_WORDS:
        assert word not in text


def test_api002_in_scope_ids_run_and_the_rows_are_the_engine_s_for_that_user(seeded):
    client = logged_in(seeded, R1A)
    decoded, text = query(client, seeded, filters={"company": [3], "owner": [2]})
    store = decoded["response"][ids.REPORT_STORE]["data"]
    assert store["params"]["company"] == ["3"]
    assert store["generated_by"] == f"reseller {R1A}"

    decoded, text = query(client, seeded)
    store = decoded["response"][ids.REPORT_STORE]["data"]
    expected = expected_records(seeded, R1A, {**INTERVAL, "tz": "UTC", "group": ["month"]})
    assert store["records"] == expected
    assert [row["Clients - All: Qty"] for row in store["records"]] == [1, 1, 1]  # client B only
    # The snapshot token is random text: it may contain a short name like "R2" by chance.
    text = text.replace(store["snapshot"], "<token>")
    for word in OTHER_RESELLER_WORDS:
        assert word not in text


def test_api003_the_admin_sees_the_whole_database(seeded):
    client = logged_in(seeded, ADMIN)
    decoded, _ = query(client, seeded, filters={"company": [4]})
    store = decoded["response"][ids.REPORT_STORE]["data"]
    assert [row["Clients - All: Qty"] for row in store["records"]] == [1, 1, 1]  # client D
    assert store["records"][0]["Balance Refill: Total"] == pytest.approx(1234567.891)


@pytest.mark.parametrize(
    ("login", "kind", "labels"),
    [
        (R1A, "company", ["R1a"]),
        (R1A, "owner", [R1A]),
        (R1A, "tag", ["gold"]),
        (R1A, "package", ["P1", "P2"]),  # the catalogue is the operator's, for everyone
        (R1A, "type", ["Client", "Reseller", "Calling Card", "Call Shop"]),
        (R2, "company", ["R2"]),
        (R2, "tag", ["platinum"]),
        (ADMIN, "company", ["Op", "R1", "R1a", "R2"]),
        (ADMIN, "owner", [ADMIN, R1A, R2]),
        (ADMIN, "tag", ["gold", "platinum"]),
    ],
)
def test_api004_option_lists_hold_only_the_user_s_scope(seeded, login, kind, labels):
    client = logged_in(seeded, login)
    decoded = add_filter(client, seeded, kind)
    assert options_of(decoded, kind) == labels
    assert decoded["response"][ids.ACTIVE_FILTERS]["data"] == [kind]


def test_api005_the_page_of_a_bookmark_naming_other_ids_leaks_nothing(seeded):
    client = logged_in(seeded, R1A)
    decoded = call(
        client, seeded, "page.children", {"id": ids.PAGE, "property": "children"},
        [_slot(ids.URL, "pathname", "/")],
        [_slot(ids.URL, "search", "?company=4&owner=3&tag=platinum&company=3")],
        ["url.pathname"],
    )
    text = json.dumps(decoded)
    assert '"label": "R1a"' in text
    for word in OTHER_RESELLER_WORDS:
        assert f'"{word}"' not in text


def test_api006_a_saved_query_filling_the_form_gets_only_in_scope_choices(seeded):
    client = logged_in(seeded, R1A)
    outputs = [
        {"id": ids.INTERVAL_START, "property": "value"},
        {"id": ids.INTERVAL_END, "property": "value"},
        {"id": ids.INTERVAL_TZ, "property": "value"},
        {"id": ids.INTERVAL_PRESET, "property": "data"},
        {"id": ids.GROUP_BY, "property": "value"},
        {"id": ids.CURRENCY, "property": "value"},
        {"id": ids.ACTIVE_DURATION, "property": "value"},
        {"id": ids.OUTPUT_TYPE, "property": "value"},
        {"id": ids.ACTIVE_FILTERS, "property": "data"},
        [{"id": ids.filter_row(k), "property": "style"} for k in FILTER_KINDS],
        [{"id": ids.filter_value(k), "property": "value"} for k in FILTER_KINDS],
        [{"id": ids.filter_value(k), "property": "options"} for k in FILTER_KINDS],
    ]
    params = {"from": "2025-01-01", "to": "2025-02-01", "company": ["4"], "tag": ["platinum"]}
    decoded = call(client, seeded, "interval-start.value@", outputs,
                   [_slot(ids.FORM_LOAD, "data", params)], [], ["form-load.data"])
    assert options_of(decoded, "company") == ["R1a"]
    assert options_of(decoded, "tag") == ["gold"]
    assert decoded["response"][ids.INTERVAL_START]["value"] == "2025-01-01 00:00"


def test_api007_unexpected_failures_show_a_generic_message_not_a_trace(seeded, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals: /srv/db password=hunter2")

    monkeypatch.setattr("callbacks.query.run_report", broken)
    client = logged_in(seeded, R1A)
    decoded, text = query(client, seeded)
    assert "The report could not be made because of an unexpected problem." in text
    assert "hunter2" not in text and "Traceback" not in text
    assert ids.REPORT_STORE not in decoded["response"]


def test_api008_validation_errors_name_their_field(seeded):
    client = logged_in(seeded, R1A)
    decoded, _ = query(client, seeded, **{"from": "2025-02-01", "to": "2025-01-01"})
    assert field_errors(decoded) == {"interval": "The interval start must be before its end"}
    decoded, _ = query(client, seeded, active=None)
    assert list(field_errors(decoded)) == ["active"]
    decoded, _ = query(client, seeded, group=["month", "year"])
    assert list(field_errors(decoded)) == ["group_by"]
    decoded, _ = query(client, seeded, currency="XYZ")
    assert list(field_errors(decoded)) == ["currency"]
    decoded, _ = query(client, seeded, output="csv", send_to="not an address")
    assert list(field_errors(decoded)) == ["send_to"]


def test_api009_a_file_output_downloads_the_report(seeded):
    client = logged_in(seeded, R1A)
    decoded, _ = query(client, seeded, output="csv")
    download = decoded["response"][ids.REPORT_DOWNLOAD]["data"]
    assert download["filename"].endswith(".csv")
    assert decoded["response"][ids.REPORT_STORE]["data"]["output"] == "csv"


def test_api010_send_to_queues_the_file_and_the_page_follows_its_delivery(seeded):
    client = logged_in(seeded, R1A)
    decoded, _ = query(client, seeded, output="xlsx", send_to="a@example.com, b@example.com")
    response = decoded["response"]
    request_id = response[ids.MAIL_REQUEST]["data"]
    assert "E-mail to a@example.com, b@example.com queued for sending." in json.dumps(
        response[ids.QUERY_STATUS]
    )
    polled = call(
        client, seeded, "mail-status.children",
        [{"id": ids.MAIL_STATUS, "property": "children"},
         {"id": ids.MAIL_POLL, "property": "disabled"}],
        [_slot(ids.MAIL_POLL, "n_intervals", 1), _slot(ids.MAIL_REQUEST, "data", request_id)],
        [], ["mail-poll.n_intervals"],
    )
    text = json.dumps(polled["response"][ids.MAIL_STATUS])
    assert "a@example.com: queued" in text and "b@example.com: queued" in text
    assert polled["response"][ids.MAIL_POLL]["disabled"] is False  # not final yet: keep polling


def test_api011_web_output_ignores_send_to(seeded):
    client = logged_in(seeded, R1A)
    decoded, _ = query(client, seeded, output="web", send_to="not an address")
    assert ids.REPORT_STORE in decoded["response"]
    assert ids.MAIL_REQUEST not in decoded["response"]


# --------------------------------------------------------------------------- pure helpers
# The form's vocabulary, the presets, the grid definition and the report store.

WEDNESDAY = datetime(2025, 3, 5, 14, 30)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("today", "2025-03-05", "2025-03-06"),
        ("yesterday", "2025-03-04", "2025-03-05"),
        ("this_week", "2025-03-03", "2025-03-10"),
        ("last_week", "2025-02-24", "2025-03-03"),
        ("this_month", "2025-03-01", "2025-04-01"),
        ("last_month", "2025-02-01", "2025-03-01"),
        ("this_year", "2025-01-01", "2026-01-01"),
        ("last_year", "2024-01-01", "2025-01-01"),
        ("last_30_days", "2025-02-04", "2025-03-06"),
    ],
)
def test_dsf001_presets_are_whole_days_weeks_from_monday_months_years(name, start, end):
    assert preset_interval(name, WEDNESDAY) == (
        datetime.fromisoformat(start), datetime.fromisoformat(end)
    )


def test_dsf002_last_month_of_january_is_the_december_before():
    assert preset_interval("last_month", datetime(2025, 1, 31, 23, 59)) == (
        datetime(2024, 12, 1), datetime(2025, 1, 1)
    )


def test_dsf003_a_query_string_fills_the_form_in_its_order_and_drops_nonsense():
    pairs = parse_search(
        "?from=2025-01-01&to=2025-03-01T12:30&tz=Asia%2FKolkata&group=date&group=year"
        "&group=package&currency=eur&active=3&owner=2&company=3&company=x&company=4"
        "&type=client&type=alien&tag=gold&output=XLS&unknown=1&package="
    )
    form = form_state(pairs, "USD", WEDNESDAY)
    assert (form.start, form.end, form.tz) == ("2025-01-01 00:00", "2025-03-01 12:30",
                                               "Asia/Kolkata")
    assert form.group == ("date", "package")  # one time grain at most: the first
    assert (form.currency, form.active, form.output, form.preset) == ("EUR", 3, "xls", None)
    assert dict(form.filters) == {"owner": (2,), "company": (3, 4), "type": ("client",),
                                  "tag": ("gold",)}
    assert list(form.filters) == ["owner", "company", "type", "tag"]
    assert form.within({"owner": [2], "company": [3]}).filters == {
        "owner": (2,), "company": (3,), "type": (), "tag": ()}


def test_dsf004_defaults_and_presets_are_recomputed_for_today():
    empty = form_state([], "USD", WEDNESDAY)
    assert (empty.start, empty.end) == ("2025-03-01 00:00", "2025-04-01 00:00")  # this month
    assert (empty.tz, empty.group, empty.currency, empty.active, empty.output) == (
        None, (), "USD", 1, "web")
    bookmarked = form_state(parse_search("preset=last_week&from=2020-01-01&to=2020-02-01"),
                            "USD", WEDNESDAY)
    assert (bookmarked.start, bookmarked.end) == ("2025-02-24 00:00", "2025-03-03 00:00")
    assert bookmarked.preset_data == {"name": "last_week", "label": "Last week",
                                      "from": "2025-02-24 00:00", "to": "2025-03-03 00:00"}


def test_dsf005_form_values_become_spec_parameters():
    params = form_params(
        start="2025-01-01 00:00", end="2025-02-01", tz="Europe/Kyiv",
        preset={"name": "this_month"}, group=["month", "package"], currency="EUR", active=2,
        output="csv", active_filters=["company", "tag"],
        filter_values={"company": [3, 4], "tag": ["gold"], "owner": [1]},
    )
    assert params == {
        "from": "2025-01-01T00:00", "to": "2025-02-01T00:00", "tz": "Europe/Kyiv",
        "preset": "this_month", "group": ["month", "package"], "currency": "EUR",
        "active": "2", "tag": ["gold"], "company": ["3", "4"], "output": "csv",
    }  # the owner filter was not added: its stale values do not count
    assert query_from_params(params).company_ids == (3, 4)
    # Read back (a saved query, a snapshot's "open as query"), the preset means this month
    # again, whenever that is.
    again = form_state(params, "USD", WEDNESDAY)
    assert (again.preset, again.start, again.end) == ("this_month", "2025-03-01 00:00",
                                                      "2025-04-01 00:00")
    assert again.filters == {"tag": ("gold",), "company": (3, 4)}
    assert (again.group, again.currency, again.active, again.output) == (
        ("month", "package"), "EUR", 2, "csv")


def test_dsf006_the_grid_has_the_two_level_header_and_json_rows(seeded):
    defs = column_defs(report_columns(by_package=True))
    assert [d["field"] for d in defs[:2]] == ["Period", "Package"]
    assert all(d["pinned"] == "left" for d in defs[:2])
    assert [d["headerName"] for d in defs[2:]] == [group for group, _ in GROUPS]
    assert [c["headerName"] for c in defs[2]["children"]] == list(GROUPS[0][1])
    qty, pos = defs[2]["children"][:2]
    assert qty["valueFormatter"]["function"] == "dynamicsCount(params.value)"
    assert pos["valueFormatter"]["function"] == "dynamicsMoney(params.value)"
    assert "dyn-negative" in pos["cellClassRules"]
    assert qty["type"] == "rightAligned"

    with seeded.server.app_context():
        report = run_report(query_from_params({**INTERVAL, "group": ["month"]}),
                            load_user_by_login(db.engine, ADMIN))
    rows = grid_rows(report.frame)
    assert rows[2]["Period"] == "2025-03"
    assert rows[1]["Balance Refill: Avg"] is None  # NaN: no refill in February
    assert isinstance(rows[0]["Clients - All: Qty"], int)


def test_dsf007_the_report_store_gives_back_the_report_it_was_made_of(seeded):
    with seeded.server.app_context():
        report = run_report(
            query_from_params({**INTERVAL, "group": ["month", "package"], "currency": "EUR"}),
            load_user_by_login(db.engine, ADMIN),
        )
    before = report.frame.copy()
    data = json.loads(json.dumps(report_store_data(report, {"preset": "x"}, output="web")))
    back = report_from_store(data)
    pd.testing.assert_frame_equal(back.frame, report.frame)
    pd.testing.assert_frame_equal(report.frame, before)  # the input is left unchanged
    assert back.query == report.query
    assert (back.currency, back.data_interval, back.generated_by) == (
        report.currency, report.data_interval, report.generated_by)
    assert data["params"] == {"preset": "x"}
