"""``figure_for`` and the chart specs: ``pytest -k cht``. No browser, no database.

The rows are the worked example's hand-checked reports (``tests/data/micro``), turned into
report-store records as the dashboard keeps them.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pandas as pd
import pytest

from exports.files import csv_from_frame
from layouts.charts import (
    ChartSpec,
    chart_filename,
    chart_frame,
    decode_specs,
    encode_specs,
    figure_for,
    graph_config,
    specs_from_search,
)
from layouts.grid import grid_rows

MICRO = Path(__file__).resolve().parents[1] / "data" / "micro"
INTERVAL = {"from": "2025-01-01T00:00", "to": "2025-04-01T00:00", "tz": "UTC", "active": 1}
REFILL = "Balance Refill: Total"
PAYG = "Pay As You Go: Total"
ACTIVE = "Clients - Active: Qty"
RENEW = "Packages: Renew Total"
REFILL_AVG = "Balance Refill: Avg"


def store(name: str, group: list[str], currency: str) -> dict:
    """A report-store value of one of the worked example's expected reports."""
    frame = pd.read_csv(MICRO / name, dtype={"Period": str})
    return {
        "columns": [str(c) for c in frame.columns],
        "records": grid_rows(frame),
        "currency": currency,
        "tz": "UTC",
        "query": {**INTERVAL, "group": group, "currency": currency},
    }


@pytest.fixture
def monthly() -> dict:
    return store("expected-month-usd.csv", ["month"], "USD")


@pytest.fixture
def by_package() -> dict:
    return store("expected-month-package-eur.csv", ["month", "package"], "EUR")


@pytest.fixture
def package_only(by_package: dict) -> dict:
    """Grouped by package only: one row per package (the March rows, relabelled)."""
    rows = [dict(r, Period="2025-01-01T00:00/2025-04-01T00:00")
            for r in by_package["records"] if r["Period"] == "2025-03"]
    return {**by_package, "records": rows, "query": {**by_package["query"], "group": ["package"]}}


@pytest.fixture
def ungrouped(monthly: dict) -> dict:
    row = dict(monthly["records"][0], Period="2025-01-01T00:00/2025-04-01T00:00")
    return {**monthly, "records": [row], "query": {**monthly["query"], "group": []}}


def draw(data: dict, spec: ChartSpec | dict):
    return figure_for(data["records"], spec, data)


def column(data: dict, name: str, **where: str) -> list:
    return [r[name] for r in data["records"] if all(r[k] == v for k, v in where.items())]


def test_cht001_time_grain_puts_periods_on_x_and_the_column_on_y(monthly):
    figure = draw(monthly, ChartSpec.for_preset("refill_total"))
    (trace,) = figure.data
    assert trace.type == "scatter" and "lines" in trace.mode
    assert list(trace.x) == ["2025-01", "2025-02", "2025-03"]
    assert list(trace.y) == column(monthly, REFILL) == [100.0, 0.0, 50.0]
    assert figure.layout.xaxis.title.text == "Period"
    assert figure.layout.xaxis.type == "category"  # "2025-01" stays the grid's label


def test_cht002_grouped_by_package_draws_a_line_per_package(by_package):
    figure = draw(by_package, ChartSpec.for_preset("renew_total"))
    assert [t.name for t in figure.data] == ["P1"]  # the example has one package with members
    (p1,) = figure.data
    assert list(p1.x) == ["2025-01", "2025-02", "2025-03"]
    assert list(p1.y) == column(by_package, RENEW, Package="P1") == [5.0, 5.0, 0.0]


def test_cht003_two_packages_two_traces_with_each_packages_values(by_package):
    p2 = [dict(r, Package="P2", **{ACTIVE: 7}) for r in by_package["records"]]
    data = {**by_package, "records": [r for pair in zip(by_package["records"], p2, strict=False)
                                      for r in pair]}
    figure = draw(data, ChartSpec.for_preset("active_qty"))
    assert [t.name for t in figure.data] == ["P1", "P2"]
    assert list(figure.data[0].y) == [1, 1, 0]
    assert list(figure.data[1].y) == [7, 7, 7]
    assert all(list(t.x) == ["2025-01", "2025-02", "2025-03"] for t in figure.data)


def test_cht004_package_only_puts_packages_on_x_as_bars(package_only):
    p2 = dict(package_only["records"][0], Package="P2", **{RENEW: 12.5})
    data = {**package_only, "records": [*package_only["records"], p2]}
    figure = draw(data, ChartSpec.for_preset("renew_total"))
    (trace,) = figure.data
    assert trace.type == "bar"
    assert list(trace.x) == ["P1", "P2"]
    assert list(trace.y) == [0.0, 12.5]
    assert figure.layout.xaxis.title.text == "Package"


def test_cht005_no_grouping_draws_one_bar(ungrouped):
    figure = draw(ungrouped, ChartSpec.for_preset("payg_total"))
    (trace,) = figure.data
    assert trace.type == "bar"
    assert list(trace.x) == ["2025-01-01T00:00/2025-04-01T00:00"]
    assert list(trace.y) == [30.0]


def test_cht006_axis_titles_carry_the_currency_for_money_only(by_package, monthly):
    money = draw(by_package, ChartSpec.for_preset("renew_total"))
    assert money.layout.yaxis.title.text == "Packages: Renew Total (EUR)"
    count = draw(monthly, ChartSpec.for_preset("active_qty"))
    assert count.layout.yaxis.title.text == "Clients - Active: Qty"
    assert "(" not in count.layout.yaxis.title.text


def test_cht007_subtitle_names_the_interval_and_time_zone(by_package):
    figure = draw(by_package, ChartSpec.for_preset("refill_total"))
    assert figure.layout.title.text == "Balance Refill: Total"
    assert figure.layout.title.subtitle.text == (
        "2025-01-01 00:00 to 2025-04-01 00:00 (UTC), end excluded · amounts in EUR"
    )


def test_cht008_hover_is_formatted_like_the_grid(monthly):
    rows = [dict(monthly["records"][0], **{REFILL: 1234567.891, REFILL_AVG: None,
                                           ACTIVE: 12345})]
    data = {**monthly, "records": rows}
    refill = draw(data, {"measures": [REFILL, REFILL_AVG, ACTIVE]})
    assert [list(t.customdata) for t in refill.data] == [
        ["1,234,567.89 USD"], ["—"], ["12,345"],
    ]
    assert list(refill.data[0].y) == [1234567.891]  # full precision in the data
    assert refill.data[1].y == (None,)
    assert "%{customdata}" in refill.data[0].hovertemplate


def test_cht009_pie_slices_are_the_x_values(package_only):
    p2 = dict(package_only["records"][0], Package="P2", **{"Clients - All: Qty": 4})
    data = {**package_only, "records": [*package_only["records"], p2]}
    figure = draw(data, {"kind": "pie", "measures": ["Clients - All: Qty", ACTIVE]})
    (pie,) = figure.data
    assert pie.type == "pie"
    assert list(pie.labels) == ["P1", "P2"]
    assert list(pie.values) == [1, 4]


def test_cht010_second_y_axis_for_one_measure(monthly):
    spec = {"kind": "stacked", "measures": [REFILL, PAYG, ACTIVE], "secondary": ACTIVE,
            "x": "period", "title": "Money in and out"}
    figure = draw(monthly, spec)
    assert [(t.name, t.yaxis) for t in figure.data] == [
        (REFILL, "y"), (PAYG, "y"), (ACTIVE, "y2"),
    ]
    assert [list(t.y) for t in figure.data] == [
        column(monthly, REFILL), column(monthly, PAYG), column(monthly, ACTIVE),
    ]
    assert figure.layout.barmode == "relative"
    assert figure.layout.yaxis2.overlaying == "y" and figure.layout.yaxis2.side == "right"
    assert figure.layout.yaxis2.title.text == ACTIVE
    assert figure.layout.yaxis.title.text == (
        "Balance Refill: Total (USD) / Pay As You Go: Total (USD)"
    )
    assert figure.layout.title.text == "Money in and out"
    assert {t.offsetgroup for t in figure.data} == {"y", "y2"}  # y2 bars beside, not over


def test_cht011_chart_types_and_an_explicit_x_dimension(by_package):
    area = draw(by_package, {"kind": "area", "measures": [REFILL, PAYG]})
    assert all(t.stackgroup == "y" for t in area.data)
    assert [t.name for t in area.data] == [f"P1 · {REFILL}", f"P1 · {PAYG}"]
    bars = draw(by_package, {"kind": "bar", "measures": [RENEW], "x": "package"})
    # Packages on x with a time grain: one trace per period.
    assert [t.name for t in bars.data] == ["2025-01", "2025-02", "2025-03"]
    assert [list(t.x) for t in bars.data] == [["P1"]] * 3
    assert [list(t.y) for t in bars.data] == [[5.0], [5.0], [0.0]]


def test_cht012_package_x_without_packages_falls_back_to_periods(monthly):
    figure = draw(monthly, {"kind": "line", "measures": [REFILL], "x": "package"})
    assert list(figure.data[0].x) == ["2025-01", "2025-02", "2025-03"]


def test_cht013_nothing_to_draw_says_why(monthly):
    assert draw(monthly, ChartSpec.for_preset("blank")).data == ()
    assert draw(monthly, ChartSpec.for_preset("blank")).layout.annotations[0].text == (
        "Choose one or more measures."
    )
    empty = figure_for([], ChartSpec.for_preset("refill_total"), monthly)
    assert empty.layout.annotations[0].text == "The report has no rows."


def test_cht014_the_report_rows_are_left_unchanged(by_package):
    before = copy.deepcopy(by_package)
    draw(by_package, {"kind": "pie", "measures": [REFILL]})
    draw(by_package, {"kind": "stacked", "measures": [REFILL, PAYG], "secondary": PAYG})
    chart_frame(by_package["records"], {"measures": [REFILL]}, by_package)
    assert by_package == before


def test_cht015_specs_survive_the_url_and_bad_ones_are_dropped():
    specs = [
        ChartSpec.for_preset("refill_total"),
        ChartSpec(kind="stacked", measures=(REFILL, PAYG), secondary=PAYG, x="period",
                  title="Refills vs pay-as-you-go", editing=True),
    ]
    text = encode_specs(specs)
    assert all(c.isalnum() or c in "-_" for c in text)  # no escaping needed in a URL
    assert decode_specs(text) == specs
    assert specs_from_search(f"?from=2025-01-01&chart={text}&group=month") == specs
    assert encode_specs([]) == ""
    assert decode_specs("not base64 at all!") == []
    assert decode_specs("W3sibSI6WyJubyBzdWNoIGNvbHVtbiJdfV0") == [ChartSpec()]  # unknown measure
    coerced = ChartSpec.coerce({"kind": "radar", "measures": [PAYG, "x"], "secondary": REFILL})
    assert coerced == ChartSpec(measures=(PAYG,))


def test_cht016_the_charts_data_as_csv(by_package):
    spec = ChartSpec.for_preset("renew_total")
    frame = chart_frame(by_package["records"], spec, by_package)
    assert list(frame.columns) == ["Period", "Package", RENEW]
    text = csv_from_frame(frame).decode("utf-8-sig")
    assert pd.read_csv(io.StringIO(text), dtype=str).values.tolist() == [
        ["2025-01", "P1", "5.00"], ["2025-02", "P1", "5.00"], ["2025-03", "P1", "0.00"],
    ]
    assert chart_filename(spec, by_package, "csv") == (
        "customer-dynamics_2025-01-01_2025-04-01_packages-renew-total.csv"
    )
    options = graph_config(spec, by_package)["toImageButtonOptions"]
    assert options == {"format": "png", "scale": 2,
                       "filename": "customer-dynamics_2025-01-01_2025-04-01_packages-renew-total"}



def test_cht017_a_saved_query_with_charts_brings_them_back(by_package):
    from dash.exceptions import PreventUpdate

    from callbacks.charts import chart_state, draw_chart, restore_from_params

    specs = [ChartSpec.for_preset("payg_total"),
             ChartSpec(kind="pie", measures=(RENEW,), title="Renewals")]
    params = {"from": "2025-01-01T00:00", "group": ["month"], "chart": encode_specs(specs)}
    cards, counter = restore_from_params(params, by_package, 3)
    assert counter == 5
    stores = [store for card in cards for store in _walk(card)
              if getattr(store, "id", None) and store.id.get("type") == "chart-spec"]
    assert [s.id["index"] for s in stores] == [3, 4]
    assert [ChartSpec.coerce(s.data) for s in stores] == specs
    assert chart_state([s.data for s in stores]) == params["chart"]
    with pytest.raises(PreventUpdate):  # a saved query without charts leaves them alone
        restore_from_params({"from": "2025-01-01T00:00"}, by_package, 0)

    figure, config, label = draw_chart(stores[1].data, by_package)
    assert (label, figure.data[0].type) == ("Renewals", "pie")
    assert config["toImageButtonOptions"]["filename"].endswith("_renewals")
    waiting, _, _ = draw_chart(stores[1].data, None)
    assert waiting.layout.annotations[0].text == "Press Query to draw this chart from the report."


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def test_cht018_user_text_is_shown_as_text_not_html(package_only):
    rows = [dict(package_only["records"][0], Package="<b>A&B</b>")]
    data = {**package_only, "records": rows}
    figure = draw(data, {"kind": "bar", "measures": [RENEW],
                         "title": '<a href="https://evil.example">click</a>'})
    assert figure.layout.title.text == '&lt;a href="https://evil.example"&gt;click&lt;/a&gt;'
    assert list(figure.data[0].x) == ["&lt;b&gt;A&amp;B&lt;/b&gt;"]
    assert list(draw(data, {"kind": "pie", "measures": [RENEW]}).data[0].labels) == [
        "&lt;b&gt;A&amp;B&lt;/b&gt;"
    ]


def test_cht019_a_tampered_chart_parameter_gives_no_error():
    import base64
    import json

    def encoded(items) -> str:
        return base64.urlsafe_b64encode(json.dumps(items).encode()).decode()

    assert decode_specs(encoded({"p": "refill_total"})) == []  # not a list
    tampered = [{"p": ["x"], "k": {"a": 1}, "m": [[REFILL], PAYG], "s": [1], "x": 3, "t": 5}, 7]
    assert decode_specs(encoded(tampered)) == [ChartSpec(measures=(PAYG,))]
    many = decode_specs(encoded([{"p": "payg_total"}] * 100))
    assert len(many) == 30
